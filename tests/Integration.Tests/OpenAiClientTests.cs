using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The OpenAI-compatible surface driven by the official OpenAI client library (npm <c>openai</c>, under Node) against a real
/// Kestrel server, the real broker and a worker process serving all-MiniLM-L6-v2 with a text-embedding recipe, keys
/// required: embeddings (one string, several, float and base64) compared with embeddings computed here directly, refusals
/// in OpenAI's error shape, and a batch run to its end, its output compared the same way and its bad lines in its error file.
/// </summary>
public sealed class OpenAiClientTests(TenantSystem system) : IClassFixture<TenantSystem>
{
    private static readonly string[] Texts =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Embeddings map sentences to vectors.",
        "A job system keeps the accelerators full, batching requests from every caller.",
    ];

    /// <summary>More tokens than the model's recipe takes; the recipe refuses it rather than cutting it.</summary>
    private static readonly string LongText = string.Join(' ', Enumerable.Repeat("tokens", 600));

    [Fact]
    public async Task TheOfficialOpenAiClientEmbedsStringsAsFloatsAndBase64()
    {
        var ct = TestTimeout.After(600);
        var tenant = await system.CreateTenantAsync("openai", ct);
        var model = await RegisterMiniLmAsync(tenant, ct);
        var result = await RunClientAsync("embeddings", tenant, model, "", ct);

        using var reference = ReferenceEmbedder.MiniLm();
        var expected = Texts.Select(t => reference.Embed(t)).ToArray();
        var tokens = Texts.Select(t => (long)reference.Tokenize(t).Count).ToArray();

        // Embeddings: the client's default (base64 on the wire, decoded by the client), explicit float, explicit base64.
        var single = result["single"]!;
        Assert.Equal(("list", model), (single["object"]!.GetValue<string>(), single["model"]!.GetValue<string>()));
        AssertClose(expected[0], Floats(single["data"]![0]!["embedding"]!));
        Assert.Equal(tokens[0], single["usage"]!["prompt_tokens"]!.GetValue<long>());
        foreach (var form in new[] { "floats", "base64" })
        {
            var data = result[form]!["data"]!.AsArray();
            Assert.Equal([0, 1, 2], data.Select(d => d!["index"]!.GetValue<int>()));
            for (var i = 0; i < Texts.Length; i++)
            {
                AssertClose(expected[i], Floats(data[i]!["embedding"]!));
            }

            Assert.Equal(tokens.Sum(), result[form]!["usage"]!["total_tokens"]!.GetValue<long>());
        }

        Assert.Equal("string", result["base64"]!["data"]![0]!["raw"]!.GetValue<string>());

        // Refusals in OpenAI's shape, which the client turns into its own errors.
        var refusals = result["refusals"]!;
        Assert.Equal((404, "model_not_found", "model"), Refusal(refusals["unknownModel"]!));
        Assert.Equal((400, null, "input"), Refusal(refusals["tokenArrays"]!));
        Assert.Contains("Token arrays are not supported", refusals["tokenArrays"]!["message"]!.GetValue<string>());
        Assert.Equal((400, null, "dimensions"), Refusal(refusals["dimensions"]!));
        Assert.Equal((400, null, "input"), Refusal(refusals["tooLong"]!));
        Assert.StartsWith("input[1]: ", refusals["tooLong"]!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(401, refusals["badKey"]!["status"]!.GetValue<int>());
        Assert.Equal("authentication_error", refusals["badKey"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheOfficialOpenAiClientRunsABatchOfEmbeddingsToItsOutputAndErrorFiles()
    {
        var ct = TestTimeout.After(600);
        var tenant = await system.CreateTenantAsync("openai-batch", ct);
        var model = await RegisterMiniLmAsync(tenant, ct);
        var batchFile = string.Join('\n',
            Request("one", model, "\"" + Texts[0] + "\""),
            Request("many", model, JsonSerializer.Serialize(Texts), ", \"encoding_format\": \"base64\""),
            Request("one", model, "\"a repeated custom_id\""),
            Request("other-model", "no-such-model", "\"x\""),
            Request("tokens", model, "[[101, 7592, 102]]"),
            "{ this is not json",
            Request("last", model, "\"" + Texts[2] + "\""),
            Request("too-long", model, JsonSerializer.Serialize(new[] { "fine", LongText }))) + "\n";
        var result = await RunClientAsync("batch", tenant, model, batchFile, ct);

        using var reference = ReferenceEmbedder.MiniLm();
        var expected = Texts.Select(t => reference.Embed(t)).ToArray();
        var tokens = Texts.Select(t => (long)reference.Tokenize(t).Count).ToArray();

        // Files: the upload's object, and its content back.
        var file = result["file"]!;
        Assert.StartsWith("file-", file["id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(("file", "batch", "requests.jsonl", "processed"), (file["object"]!.GetValue<string>(), file["purpose"]!.GetValue<string>(),
            file["filename"]!.GetValue<string>(), file["status"]!.GetValue<string>()));
        Assert.Equal(Encoding.UTF8.GetByteCount(batchFile), file["bytes"]!.GetValue<long>());
        Assert.Equal(file["id"]!.GetValue<string>(), result["fileAgain"]!["id"]!.GetValue<string>());
        Assert.Equal(batchFile, result["fileContent"]!.GetValue<string>());

        // The batch: created, run to completion, its counts by request.
        var created = result["created"]!;
        Assert.StartsWith("batch_", created["id"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(("batch", "/v1/embeddings", "24h"), (created["object"]!.GetValue<string>(), created["endpoint"]!.GetValue<string>(),
            created["completion_window"]!.GetValue<string>()));
        Assert.Equal("openai-client", created["metadata"]!["suite"]!.GetValue<string>());
        var batch = result["batch"]!;
        Assert.Equal("completed", batch["status"]!.GetValue<string>());
        Assert.Equal((8L, 3L, 5L), (batch["request_counts"]!["total"]!.GetValue<long>(), batch["request_counts"]!["completed"]!.GetValue<long>(),
            batch["request_counts"]!["failed"]!.GetValue<long>()));
        Assert.NotNull(batch["completed_at"]);
        Assert.Equal(file["id"]!.GetValue<string>(), batch["input_file_id"]!.GetValue<string>());
        Assert.Equal(409, result["cancelAfterEnd"]!["status"]!.GetValue<int>());
        Assert.Contains(batch["id"]!.GetValue<string>(), result["listed"]!.AsArray().Select(b => b!.GetValue<string>()));

        // The output file: one response per good request, the embeddings those of the direct run.
        var lines = JsonLines(result["output"]!.GetValue<string>()).ToDictionary(l => l["custom_id"]!.GetValue<string>());
        Assert.Equal(["last", "many", "one"], lines.Keys.Order(StringComparer.Ordinal));
        Assert.All(lines.Values, l => Assert.Equal(200, l["response"]!["status_code"]!.GetValue<int>()));
        AssertClose(expected[0], Floats(lines["one"]["response"]!["body"]!["data"]![0]!["embedding"]!));
        AssertClose(expected[2], Floats(lines["last"]["response"]!["body"]!["data"]![0]!["embedding"]!));
        var many = lines["many"]["response"]!["body"]!;
        Assert.Equal(tokens.Sum(), many["usage"]!["prompt_tokens"]!.GetValue<long>());
        for (var i = 0; i < Texts.Length; i++)
        {
            AssertClose(expected[i], FromBase64(many["data"]![i]!["embedding"]!.GetValue<string>()));
        }

        Assert.Equal("batch_output", result["outputFile"]!["purpose"]!.GetValue<string>());
        Assert.Equal(Encoding.UTF8.GetByteCount(result["output"]!.GetValue<string>()), result["outputFile"]!["bytes"]!.GetValue<long>());

        // The error file: every bad line, with the reason.
        var errors = JsonLines(result["errors"]!.GetValue<string>());
        Assert.Equal(5, errors.Count);
        var refused = errors.Take(4).ToList();
        Assert.Equal(["duplicate_custom_id", "model_mismatch", "invalid_body", "invalid_json"], refused.Select(e => e["error"]!["code"]!.GetValue<string>()));
        Assert.Equal(["one", "other-model", "tokens", null], refused.Select(e => e["custom_id"]?.GetValue<string>()));
        Assert.All(refused, e => Assert.Null(e["response"]));

        // An input the worker refuses fails its request as OpenAI writes a failed request: a response with status 400.
        var failed = errors[4];
        Assert.Equal("too-long", failed["custom_id"]!.GetValue<string>());
        Assert.Equal(400, failed["response"]!["status_code"]!.GetValue<int>());
        Assert.StartsWith("input[1]: ", failed["response"]!["body"]!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(failed["error"]);
    }

    [Fact]
    public async Task EmbeddingsRefuseAModelWithoutATextEmbeddingRecipeAndCallersWithoutAKeyInOpenAisShape()
    {
        var ct = TestTimeout.After(120);
        var tenant = await system.CreateTenantAsync("openai-refusals", ct);
        var (_, onnx) = TestModels.Classifier(seed: 7);
        var name = TestModels.UniqueName("tensors-only");
        await tenant.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);

        using var noRecipe = await tenant.Http.PostAsJsonAsync("v1/embeddings", new { model = name, input = "hello" }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, noRecipe.StatusCode);
        var error = (await noRecipe.Content.ReadFromJsonAsync<JsonNode>(ct))!["error"]!;
        Assert.Equal(("invalid_request_error", "model", "model_not_embedding"),
            (error["type"]!.GetValue<string>(), error["param"]!.GetValue<string>(), error["code"]!.GetValue<string>()));
        Assert.Contains("no recipe", error["message"]!.GetValue<string>());

        using var anonymous = system.Http(null);
        foreach (var path in new[] { "v1/embeddings", "v1/files" })
        {
            using var refused = await anonymous.PostAsJsonAsync(path, new { model = name, input = "hello" }, ct);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            var body = (await refused.Content.ReadFromJsonAsync<JsonNode>(ct))!["error"]!;
            Assert.Equal(("authentication_error", "invalid_api_key"), (body["type"]!.GetValue<string>(), body["code"]!.GetValue<string>()));
        }

        using var unknownBatch = await tenant.Http.GetAsync("v1/batches/batch_0123456789abcdef0123456789abcdef", ct);
        Assert.Equal(HttpStatusCode.NotFound, unknownBatch.StatusCode);
        Assert.NotNull((await unknownBatch.Content.ReadFromJsonAsync<JsonNode>(ct))!["error"]!["message"]);

        using var badEndpoint = await tenant.Http.PostAsJsonAsync("v1/batches",
            new { input_file_id = "file-00", endpoint = "/v1/chat/completions", completion_window = "24h" }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, badEndpoint.StatusCode);
        Assert.Equal("endpoint", (await badEndpoint.Content.ReadFromJsonAsync<JsonNode>(ct))!["error"]!["param"]!.GetValue<string>());

        // A bulk file sent as JSON with ?model= is a bulk job as before; only a JSON body without ?model= is OpenAI's create.
        using var bulkFile = new StringContent("{\"id\": \"r1\", \"features\": [1, 2, 3, 4]}\n", Encoding.UTF8, "application/json");
        using var bulk = await tenant.Http.PostAsync($"v1/batches?model={name}", bulkFile, ct);
        Assert.Equal(HttpStatusCode.Accepted, bulk.StatusCode);
        var bulkJob = (await bulk.Content.ReadFromJsonAsync<BulkJobView>(WireJson.Options, ct))!;

        // Today's bulk list stays available beside OpenAI's list form, and both name the same jobs.
        using var openAiList = await tenant.Http.GetAsync("v1/batches", ct);
        var listed = (await openAiList.Content.ReadFromJsonAsync<JsonNode>(ct))!;
        Assert.Equal("list", listed["object"]!.GetValue<string>());
        Assert.Equal("batch_" + bulkJob.Id.ToString("N"), listed["data"]![0]!["id"]!.GetValue<string>());
        Assert.Null(listed["data"]![0]!["endpoint"]);
        Assert.Equal(bulkJob.Id, (await tenant.Http.GetFromJsonAsync<List<BulkJobView>>("v1/batches?view=bulk", WireJson.Options, ct))![0].Id);
    }

    /// <summary>Runs the OpenAI client script (one part of it) as the tenant and returns what it read from the server.</summary>
    private async Task<JsonNode> RunClientAsync(string part, TestTenant tenant, string model, string batchFile, CancellationToken ct)
    {
        var task = JsonSerializer.Serialize(new
        {
            part,
            baseURL = new Uri(system.ApiUrl, "v1").ToString(),
            apiKey = tenant.Key,
            model,
            texts = Texts,
            longText = LongText,
            batchFile,
            timeoutMs = 240_000,
        });
        var (exit, output) = await NodeClients.RunAsync("openai-client.js", [], task, ct);
        Assert.True(exit == 0, output);
        return JsonNode.Parse(output.Split('\n')[0])!;
    }

    /// <summary>MiniLM registered through the API with a text-embedding recipe and its vocabulary (the SDK's multipart
    /// upload, so that the registration's recipe rules see it).</summary>
    private static async Task<string> RegisterMiniLmAsync(TestTenant tenant, CancellationToken ct)
    {
        var files = RealModels.MiniLm;
        var name = TestModels.UniqueName("minilm-openai");
        await using var file = File.OpenRead(files.Model);
        await using var vocabulary = File.OpenRead(files.Vocabulary);
        var registered = await tenant.Client.RegisterModelAsync(name, file,
            new ModelRecipe { Kind = RecipeKinds.TextEmbedding, Pooling = RecipePooling.Mean, Normalize = true, Truncate = false }, vocabulary,
            cancellationToken: ct);
        Assert.Equal(RecipeKinds.TextEmbedding, registered.Recipe?.Kind);
        return name;
    }

    private static string Request(string customId, string model, string input, string more = "") =>
        "{\"custom_id\": \"" + customId + "\", \"method\": \"POST\", \"url\": \"/v1/embeddings\", \"body\": {\"model\": \"" + model
        + "\", \"input\": " + input + more + "}}";

    private static (int Status, string? Code, string? Param) Refusal(JsonNode refusal) =>
        (refusal["status"]!.GetValue<int>(), refusal["code"]?.GetValue<string>(), refusal["param"]?.GetValue<string>());

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var cosine = ReferenceEmbedder.Cosine(expected, actual);
        Assert.True(cosine >= 0.9999, $"cosine {cosine}");
    }

    private static float[] Floats(JsonNode array) => [.. array.AsArray().Select(v => v!.GetValue<float>())];

    private static float[] FromBase64(string base64)
    {
        var bytes = Convert.FromBase64String(base64);
        return [.. Enumerable.Range(0, bytes.Length / 4).Select(i => System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4)))];
    }

    private static List<JsonNode> JsonLines(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];
}
