using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.ResultApi.Apis.OpenAi;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The OpenAI surface's translations on their own, no server: an embeddings request body read, a batch file turned into
/// bulk records and error lines, a bulk job's output and error lines turned back into OpenAI's batch lines, and the ids.
/// </summary>
public sealed class OpenAiTranslationTests
{
    private const string Batch = "batch_0123456789abcdef0123456789abcdef";
    private static readonly int[] One = [1];
    private static readonly bool[] NotTruncated = [false];

    [Fact]
    public void AnEmbeddingsRequestTakesAStringOrStringsAndRefusesTokenArraysAndEmptyInput()
    {
        var one = Read("""{"model":"m","input":"hello"}""", out var error, out _);
        Assert.Null(error);
        Assert.Equal(["hello"], one!.Inputs);
        Assert.False(one.Base64);

        var many = Read("""{"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":384,"user":"u"}""", out error, out _);
        Assert.Null(error);
        Assert.Equal(["a", "b"], many!.Inputs);
        Assert.True(many.Base64);
        Assert.Null(many.DimensionsProblem(384));
        Assert.Contains("makes embeddings of 256 dimensions", many.DimensionsProblem(256));

        foreach (var (body, param, words) in new[]
        {
            ("""{"input":"x"}""", "model", "model"),
            ("""{"model":"m"}""", "input", "required"),
            ("""{"model":"m","input":""}""", "input", "empty"),
            ("""{"model":"m","input":[]}""", "input", "1 to 2048"),
            ("""{"model":"m","input":[1,2,3]}""", "input", "Token arrays"),
            ("""{"model":"m","input":[[1,2],[3]]}""", "input", "Token arrays"),
            ("""{"model":"m","input":["a",""]}""", "input", "input[1]"),
            ("""{"model":"m","input":"x","encoding_format":"int8"}""", "encoding_format", "float"),
            ("""{"model":"m","input":"x","dimensions":0}""", "dimensions", "positive"),
        })
        {
            Assert.Null(Read(body, out error, out var at));
            Assert.Equal(param, at);
            Assert.Contains(words, error);
        }

        static EmbeddingsRequest? Read(string json, out string? error, out string? param)
        {
            using var document = JsonDocument.Parse(json);
            return EmbeddingsRequest.Read(document.RootElement, out error, out param);
        }
    }

    [Fact]
    public async Task ABatchFileBecomesOneRecordPerInputAndEveryBadLineAnErrorLine()
    {
        var file = string.Join('\n',
            Line("r1", """{"model":"minilm","input":"first"}"""),
            Line("r2", """{"model":"minilm","input":["second","third"],"encoding_format":"base64"}"""),
            "{not json",
            """{"method":"POST","url":"/v1/embeddings","body":{"model":"minilm","input":"x"}}""",
            Line("r1", """{"model":"minilm","input":"again"}"""),
            """{"custom_id":"r3","method":"GET","url":"/v1/embeddings","body":{"model":"minilm","input":"x"}}""",
            """{"custom_id":"r4","method":"POST","url":"/v1/chat/completions","body":{"model":"minilm","input":"x"}}""",
            Line("r5", """{"model":"other","input":"x"}"""),
            Line("r6", """{"model":"minilm","input":""}"""),
            Line("r7", """{"model":"minilm","input":[[101,102]]}"""),
            Line("r8", """{"model":"minilm","input":"x","dimensions":12}"""),
            "",
            Line("r9", """{"model":"minilm","input":"last \"quoted\" ünïcode"}"""));

        Assert.Equal("minilm", await BatchInputTranslator.FindModelAsync(new StringReader("{bad\n" + file), TestContext.Current.CancellationToken));
        var translator = new BatchInputTranslator(Batch, "minilm", 384);
        using var records = new MemoryStream();
        using var errors = new MemoryStream();
        await translator.TranslateAsync(new StringReader(file), records, errors, TestContext.Current.CancellationToken);

        Assert.Equal((12L, 9L, 4L), (translator.Requests, translator.Refused, translator.Records));
        var written = JsonLines(records);
        Assert.Equal(["0/1/f/r1", "0/2/b/r2", "1/2/b/r2", "0/1/f/r9"], written.Select(r => r["id"]!.GetValue<string>()));
        Assert.Equal(["first", "second", "third", "last \"quoted\" ünïcode"], written.Select(r => r["text"]!.GetValue<string>()));

        var refused = JsonLines(errors);
        Assert.Equal(["invalid_json", "missing_custom_id", "duplicate_custom_id", "invalid_method", "invalid_url", "model_mismatch", "invalid_body",
            "invalid_body", "invalid_body"], refused.Select(e => e["error"]!["code"]!.GetValue<string>()).Take(9));
        Assert.All(refused, e => Assert.Null(e["response"]));
        Assert.All(refused, e => Assert.StartsWith("batch_req_", e["id"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.Equal([null, null, "r1", "r3", "r4", "r5", "r6", "r7", "r8"], refused.Select(e => e["custom_id"]?.GetValue<string>()));
        Assert.Contains("Line 3:", refused[0]["error"]!["message"]!.GetValue<string>());
        Assert.Contains("Token arrays", refused[7]["error"]!["message"]!.GetValue<string>());
        Assert.Contains("384", refused[8]["error"]!["message"]!.GetValue<string>());

        static string Line(string customId, string body) =>
            $$"""{"custom_id":"{{customId}}","method":"POST","url":"/v1/embeddings","body":{{body}}}""";
    }

    [Fact]
    public async Task BulkResultsBecomeOneResponsePerRequestAndARequestWithAFailedInputOnlyAnErrorLine()
    {
        // r2's two inputs arrive as two records (one as the protocol's tensors, one as a map), r3 lost its second input.
        var output = string.Join('\n',
            Output("0/1/f/r1", [1f, 2f], 3, tensors: true),
            Output("0/2/b/r2", [0.5f, -1f], 4, tensors: true),
            Output("1/2/b/r2", [0.25f, 8f], 5, tensors: false),
            Output("0/2/f/r3", [9f, 9f], 2, tensors: true),
            Output("0/1/f/r/with/slashes", [7f, 6f], 2, tensors: false));
        var translator = new BatchResultTranslator(Batch, "minilm");
        using var translated = new MemoryStream();
        Assert.Equal(3, await translator.TranslateOutputAsync(new StringReader(output), translated, TestContext.Current.CancellationToken));

        var lines = JsonLines(translated);
        Assert.Equal(["r1", "r2", "r/with/slashes"], lines.Select(l => l["custom_id"]!.GetValue<string>()));
        Assert.All(lines, l => Assert.Null(l["error"]));
        Assert.All(lines, l => Assert.Equal(200, l["response"]!["status_code"]!.GetValue<int>()));
        Assert.Equal(BatchInputTranslator.RequestId(Batch, "r1"), lines[0]["id"]!.GetValue<string>());
        Assert.Equal(lines[0]["id"]!.GetValue<string>(), lines[0]["response"]!["request_id"]!.GetValue<string>());

        var first = lines[0]["response"]!["body"]!;
        Assert.Equal("list", first["object"]!.GetValue<string>());
        Assert.Equal("minilm", first["model"]!.GetValue<string>());
        Assert.Equal([1f, 2f], first["data"]![0]!["embedding"]!.AsArray().Select(v => v!.GetValue<float>()));
        Assert.Equal(3, first["usage"]!["prompt_tokens"]!.GetValue<int>());

        var second = lines[1]["response"]!["body"]!;
        Assert.Equal([0, 1], second["data"]!.AsArray().Select(d => d!["index"]!.GetValue<int>()));
        Assert.Equal([0.5f, -1f], FromBase64(second["data"]![0]!["embedding"]!.GetValue<string>()));
        Assert.Equal([0.25f, 8f], FromBase64(second["data"]![1]!["embedding"]!.GetValue<string>()));
        Assert.Equal(9, second["usage"]!["total_tokens"]!.GetValue<int>());

        var errors = string.Join('\n',
            """{"id":"1/2/f/r3","line":5,"error":"Text is longer than 512 tokens"}""",
            """{"id":"0/3/f/r4","line":6,"error":"first bad"}""",
            """{"id":"1/3/f/r4","line":7,"error":"second bad"}""");
        using var failures = new MemoryStream();
        Assert.Equal(2, await translator.TranslateErrorsAsync(new StringReader(errors), failures, TestContext.Current.CancellationToken));
        var failed = JsonLines(failures);
        Assert.Equal(["r3", "r4"], failed.Select(l => l["custom_id"]!.GetValue<string>()));
        Assert.All(failed, l => Assert.Equal(400, l["response"]!["status_code"]!.GetValue<int>()));
        Assert.Equal("input[1]: Text is longer than 512 tokens", failed[0]["response"]!["body"]!["error"]!["message"]!.GetValue<string>());
        Assert.Equal("invalid_request_error", failed[1]["response"]!["body"]!["error"]!["type"]!.GetValue<string>());

        static string Output(string id, float[] embedding, long tokens, bool tensors) => tensors
            ? JsonSerializer.Serialize(new
            {
                id,
                outputs = new object[]
                {
                    new { name = "embedding", datatype = "FP32", shape = new[] { embedding.Length }, data = embedding },
                    new { name = "tokens", datatype = "INT64", shape = One, data = new[] { tokens } },
                    new { name = "truncated", datatype = "BOOL", shape = One, data = NotTruncated },
                },
            })
            : JsonSerializer.Serialize(new { id, outputs = new Dictionary<string, object> { ["embedding"] = embedding, ["tokens"] = new[] { tokens } } });
    }

    [Fact]
    public void IdsAreDerivedBothWays()
    {
        var id = Guid.CreateVersion7();
        Assert.True(OpenAiIds.TryParseBatch(OpenAiIds.Batch(id), out var parsed));
        Assert.Equal(id, parsed);
        Assert.False(OpenAiIds.TryParseBatch(id.ToString(), out _));
        Assert.False(OpenAiIds.TryParseBatch("batch_xyz", out _));

        foreach (var kind in new[] { BulkResultKind.Output, BulkResultKind.Errors })
        {
            var file = OpenAiIds.BatchFile(id, kind);
            Assert.True(OpenAiIds.TryParseBatchFile(file, out var batch, out var parsedKind));
            Assert.Equal((id, kind), (batch, parsedKind));
            Assert.False(OpenAiIds.TryParseFile(file, out _));
        }

        Assert.True(OpenAiIds.TryParseFile("file-0123abcd", out var dataset));
        Assert.Equal("0123abcd", dataset);
        Assert.False(OpenAiIds.TryParseFile("file-../x", out _));
        Assert.False(OpenAiIds.TryParseBatchFile("file-0123abcd", out _, out _));

        Assert.Equal(new RecordId(1, 3, true, "a/b"), RecordId.Parse(RecordId.Format(1, 3, true, "a/b")));
        Assert.Null(RecordId.Parse("3/3/f/x"));
        Assert.Null(RecordId.Parse("plain-id"));
        Assert.Equal(("batch", "in.jsonl"), OpenAiFileStore.ReadName(OpenAiFileStore.DatasetName("batch", "in.jsonl")));
        Assert.Equal(("user_data", "train.csv"), OpenAiFileStore.ReadName("train.csv"));
    }

    [Fact]
    public void Base64EmbeddingsAreLittleEndianFloat32()
    {
        float[] values = [1f, -0.5f, float.Epsilon, 3.14159f];
        var bytes = Convert.FromBase64String(EmbeddingVectors.ToBase64(values));
        Assert.Equal(16, bytes.Length);
        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F }, bytes[..4]);
        Assert.Equal(values, FromBase64(EmbeddingVectors.ToBase64(values)));
    }

    private static float[] FromBase64(string base64)
    {
        var bytes = Convert.FromBase64String(base64);
        return [.. Enumerable.Range(0, bytes.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4)))];
    }

    private static List<JsonNode> JsonLines(MemoryStream stream) =>
        [.. Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];
}
