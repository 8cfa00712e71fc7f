using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>Two worker processes, so that one file's chunks are scored on both; webhooks on, as in <see cref="WebhookSystem"/>.</summary>
public sealed class BulkSystem : WebhookSystem
{
    protected override int WorkerCount => 2;
}

/// <summary>Bulk offline scoring end to end on a real broker: files in over the SDK and plain HTTP, chunks scored by
/// worker processes, output and error files joined back to the input by id, cancel and expiry, and the batch.* webhook.</summary>
public sealed class BulkScoringTests(BulkSystem system) : IClassFixture<BulkSystem>, IAsyncLifetime
{
    private WebhookReceiver _receiver = null!;
    private readonly HttpClient _http = new();

    public async ValueTask InitializeAsync()
    {
        _http.BaseAddress = system.ApiUrl;
        _receiver = await WebhookReceiver.StartAsync(TestTimeout.After(30));
    }

    public async ValueTask DisposeAsync()
    {
        await _receiver.DisposeAsync();
        _http.Dispose();
    }

    private async Task<(string Name, MlpModel Model)> RegisterAsync(string prefix, CancellationToken ct, int[]? hidden = null)
    {
        var (model, onnx) = TestModels.Classifier(seed: 5, hidden);
        var name = TestModels.UniqueName(prefix);
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        return (name, model);
    }

    [Fact]
    public async Task FileWithBadRecordsIsScoredWithCountsAnOutputJoinedByIdAndAnErrorFile()
    {
        var ct = TestTimeout.After(180);
        var (name, model) = await RegisterAsync("bulk", ct);
        var random = new Random(7);
        var records = Enumerable.Range(0, 2500).Select(i => (Id: $"r{i}", Values: TestModels.RandomRecord(random))).ToArray();
        // Bad records spread over the file, each with the reason it must fail for.
        var bad = new Dictionary<int, (string Line, string Reason)>
        {
            [3] = ("{\"id\":\"r3\",\"features\":[1,2,3]}", "has 3 values"),
            [700] = ("{\"id\":\"r700\",\"features\":[1,\"NaN\",3,4]}", "not a number"),
            [1201] = ("{\"id\":\"r1201\",\"features\":[1,2,3,4", "not valid JSON"),
            [1900] = ("{\"features\":[1,2,3,4]}", "no \"id\""),
            [2499] = ("{\"id\":\"r2499\",\"inputs\":{\"nope\":[1,2,3,4]}}", "has no input 'nope'"),
        };
        var file = new StringBuilder();
        for (var i = 0; i < records.Length; i++)
        {
            file.Append(bad.TryGetValue(i, out var b) ? b.Line
                : $"{{\"id\":\"{records[i].Id}\",\"features\":[{string.Join(',', records[i].Values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}],\"note\":\"kept by the client\"}}");
            file.Append('\n');
        }

        var endpoint = _receiver.NewEndpoint();
        var submitted = await system.Client.SubmitBulkAsync(new BulkScoreRequest
        {
            Model = name,
            Input = new MemoryStream(Encoding.UTF8.GetBytes(file.ToString())),
            ChunkSize = 300,
            CallbackUrl = endpoint,
        }, ct);
        var job = await system.Client.WaitForBulkAsync(submitted.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Succeeded, job.Status);
        Assert.Equal(new BulkJobCounts { Total = 2500, Succeeded = 2495, Failed = 5 }, job.Counts);
        Assert.Equal(9, job.ChunksTotal);
        Assert.Equal(BulkInputFormat.JsonLines, job.Format);

        // The output joins to the input by id, in input order, and holds what the reference forward pass gives.
        var output = await DownloadLinesAsync(job.Id, errors: false, ct);
        Assert.Equal(2495, output.Count);
        var expectedIds = records.Where((_, i) => !bad.ContainsKey(i)).Select(r => r.Id).ToArray();
        Assert.Equal(expectedIds, output.Select(o => (string)o["id"]!).ToArray());
        var byId = records.ToDictionary(r => r.Id, r => r.Values);
        foreach (var line in output)
        {
            var expected = model.Forward(byId[(string)line["id"]!], 1);
            var actual = Assert.Single(line["outputs"]!.AsObject()).Value!.AsArray().Select(v => (float)v!).ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (var k = 0; k < expected.Length; k++)
            {
                Assert.Equal(expected[k], actual[k], 1e-5f);
            }
        }

        // The error file lists each bad record, by id where it had one and always by line, with its reason.
        var errors = await DownloadLinesAsync(job.Id, errors: true, ct);
        Assert.Equal(bad.Keys.Select(i => (long)i + 1), errors.Select(e => (long)e["line"]!));
        foreach (var (error, (index, (_, reason))) in errors.Zip(bad))
        {
            Assert.Contains(reason, (string?)error["error"]);
            Assert.Equal(index == 1900 ? "" : $"r{index}", (string?)error["id"]);
        }

        // batch.completed, signed and verified by an independent implementation.
        var webhook = Assert.Single(await _receiver.WaitForAsync(endpoint, 1, ct));
        var (code, verified) = await NodeClients.VerifyWebhookAsync(system.NewSecret, webhook, ct);
        Assert.True(code == 0, verified);
        var evt = JsonNode.Parse(verified)!;
        Assert.Equal("batch.completed", (string?)evt["type"]);
        Assert.Equal(job.Id, Guid.Parse((string)evt["data"]!["id"]!));
        Assert.Equal(2495, (long)evt["data"]!["counts"]!["succeeded"]!);
        Assert.Equal(5, (long)evt["data"]!["counts"]!["failed"]!);
        Assert.Equal($"/v1/batches/{job.Id}/output", (string?)evt["data"]!["links"]!["output"]);

        // A finished job cannot be cancelled.
        using var cancel = await _http.PostAsync($"v1/batches/{job.Id}/cancel", null, ct);
        Assert.Equal(HttpStatusCode.Conflict, cancel.StatusCode);
    }

    [Fact]
    public async Task GzipCsvSubmittedOverPlainHttpIsScoredByLineNumberAndARepeatedIdReturnsTheSameJob()
    {
        var ct = TestTimeout.After(120);
        var (name, model) = await RegisterAsync("csv", ct);
        var random = new Random(3);
        var rows = Enumerable.Range(0, 1000).Select(_ => TestModels.RandomRecord(random)).ToArray();
        var csv = new StringBuilder("a,b,c,d\n");
        foreach (var row in rows)
        {
            csv.Append(string.Join(',', row.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))).Append('\n');
        }

        csv.Append("1,2,x,4\n"); // line 1002: not a number
        var gzip = new MemoryStream();
        await using (var zip = new GZipStream(gzip, CompressionLevel.Fastest, leaveOpen: true))
        {
            await zip.WriteAsync(Encoding.UTF8.GetBytes(csv.ToString()), ct);
        }

        var id = Guid.CreateVersion7();
        using var first = await _http.PostAsync($"v1/batches?model={name}&id={id}&chunkSize=400", new ByteArrayContent(gzip.ToArray()), ct);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal($"/v1/batches/{id}", first.Headers.Location?.OriginalString);
        using var repeat = await _http.PostAsync($"v1/batches?model={name}&id={id}", new ByteArrayContent(gzip.ToArray()), ct);
        Assert.Equal(HttpStatusCode.OK, repeat.StatusCode);
        Assert.Equal(id, (await repeat.Content.ReadFromJsonAsync<BulkJobView>(WireJson.Options, ct))!.Id);

        var job = await system.Client.WaitForBulkAsync(id, cancellationToken: ct);
        Assert.Equal(BulkJobStatus.Succeeded, job.Status);
        Assert.Equal(BulkInputFormat.Csv, job.Format);
        Assert.Equal(new BulkJobCounts { Total = 1001, Succeeded = 1000, Failed = 1 }, job.Counts);

        // Without an id column a record is known by its line number: the header is line 1.
        var output = await DownloadLinesAsync(id, errors: false, ct);
        Assert.Equal(Enumerable.Range(2, 1000).Select(l => l.ToString(CultureInfo.InvariantCulture)), output.Select(o => (string)o["id"]!));
        var last = Assert.Single(output[^1]["outputs"]!.AsObject()).Value!.AsArray().Select(v => (float)v!).ToArray();
        Assert.Equal(model.Forward(rows[^1], 1)[0], last[0], 1e-5f);
        var error = Assert.Single(await DownloadLinesAsync(id, errors: true, ct));
        Assert.Equal(1002, (long)error["line"]!);
        Assert.Contains("'x', which is not a number", (string?)error["error"]);
    }

    [Fact]
    public async Task CancelledBulkJobEndsCancelledAndKeepsThePartialOutputItScored()
    {
        var ct = TestTimeout.After(180);
        // Big enough that the file takes many seconds to score, so the cancel lands while most chunks are waiting.
        var (name, _) = await RegisterAsync("cancel", ct, hidden: [1024, 1024, 1024]);
        var random = new Random(11);
        var file = new StringBuilder();
        for (var i = 0; i < 60_000; i++)
        {
            var values = TestModels.RandomRecord(random);
            file.Append(CultureInfo.InvariantCulture, $"{{\"id\":{i},\"features\":[{values[0]},{values[1]},{values[2]},{values[3]}]}}\n");
        }

        var endpoint = _receiver.NewEndpoint();
        var job = await system.Client.SubmitBulkAsync(new BulkScoreRequest
        {
            Model = name,
            Input = new MemoryStream(Encoding.UTF8.GetBytes(file.ToString())),
            ChunkSize = 250,
            CallbackUrl = endpoint,
        }, ct);
        while (job.ChunksDone < 2)
        {
            await Task.Delay(50, ct);
            job = (await system.Client.GetBulkAsync(job.Id, ct))!;
        }

        var cancelling = await system.Client.CancelBulkAsync(job.Id, ct);
        Assert.Equal(BulkJobStatus.Cancelling, cancelling.Status);
        job = await system.Client.WaitForBulkAsync(job.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Cancelled, job.Status);
        Assert.InRange(job.Counts.Succeeded, 500, 59_999);
        var output = await DownloadLinesAsync(job.Id, errors: false, ct);
        Assert.Equal(job.Counts.Succeeded, output.Count);
        Assert.Equal(output.Count, output.Select(o => (string)o["id"]!).Distinct().Count());
        Assert.Equal(0, job.Counts.Failed);

        var webhook = Assert.Single(await _receiver.WaitForAsync(endpoint, 1, ct));
        Assert.Contains("\"batch.cancelled\"", webhook.Body, StringComparison.Ordinal);

        // Cancelling again is answered with the job as it is.
        using var again = await _http.PostAsync($"v1/batches/{job.Id}/cancel", null, ct);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task JobWhoseCompletionWindowHasEndedExpiresWithoutScoring()
    {
        var ct = TestTimeout.After(60);
        var (name, _) = await RegisterAsync("expire", ct);
        var job = await system.Client.SubmitBulkAsync(new BulkScoreRequest
        {
            Model = name,
            Input = new MemoryStream("{\"id\":1,\"features\":[1,2,3,4]}\n"u8.ToArray()),
            CompletionWindow = TimeSpan.FromMilliseconds(1),
        }, ct);
        job = await system.Client.WaitForBulkAsync(job.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Expired, job.Status);
        Assert.Contains("completion window", job.Error, StringComparison.Ordinal);
        Assert.Empty(await DownloadLinesAsync(job.Id, errors: false, ct));
    }

    [Fact]
    public async Task ABlankLineIsCountedAndListedSoThatTheTotalsAddUp()
    {
        var ct = TestTimeout.After(60);
        var (name, _) = await RegisterAsync("blank", ct);
        const string file = "{\"id\":\"a\",\"features\":[1,2,3,4]}\n\n{\"id\":\"b\",\"features\":[1,2,3,4]}\n   \n{\"id\":\"c\",\"features\":[1,2,3,4]}\n";

        var job = await system.Client.SubmitBulkAsync(new BulkScoreRequest { Model = name, Input = new MemoryStream(Encoding.UTF8.GetBytes(file)) }, ct);
        job = await system.Client.WaitForBulkAsync(job.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Succeeded, job.Status);
        Assert.Equal((5, 3, 2), (job.Counts.Total, job.Counts.Succeeded, job.Counts.Failed));
        var errors = await DownloadLinesAsync(job.Id, errors: true, ct);
        Assert.Equal([2L, 4L], errors.Select(e => (long)e["line"]!));
        Assert.All(errors, e => Assert.Equal("The line is blank; every line after the header holds one record.", (string?)e["error"]));
    }

    [Theory]
    [InlineData("a,b\n1,2\n", "The CSV header has 2 columns")]
    [InlineData("\n\n", "The file has no records.")]
    public async Task FileThatCannotBeUsedFailsTheJobWithTheReason(string content, string reason)
    {
        var ct = TestTimeout.After(60);
        var (name, _) = await RegisterAsync("unusable", ct);
        var job = await system.Client.SubmitBulkAsync(new BulkScoreRequest { Model = name, Input = new MemoryStream(Encoding.UTF8.GetBytes(content)) }, ct);
        job = await system.Client.WaitForBulkAsync(job.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Failed, job.Status);
        Assert.StartsWith(reason, job.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ScoreCommandWritesTheOutputAndTheErrorFileNextToIt()
    {
        var ct = TestTimeout.After(120);
        var (name, model) = await RegisterAsync("cli", ct);
        var folder = Directory.CreateTempSubdirectory("aiaas-score-");
        try
        {
            var random = new Random(9);
            var csv = new StringBuilder("id,f1,f2,f3,f4\n");
            var rows = Enumerable.Range(0, 3000).Select(_ => TestModels.RandomRecord(random)).ToArray();
            for (var i = 0; i < rows.Length; i++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"user-{i},{string.Join(',', rows[i].Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}\n");
            }

            csv.Append("user-bad,1,2,3\n");
            var input = Path.Combine(folder.FullName, "records.csv");
            await File.WriteAllTextAsync(input, csv.ToString(), ct);
            var output = Path.Combine(folder.FullName, "scores.jsonl");

            var exitCode = await Cli.CliApp.Build()
                .Parse(["score", "--api", system.ApiUrl.ToString(), "--model", $"{name}:1", "--input", input, "--output", output, "--chunk-size", "700"])
                .InvokeAsync(cancellationToken: ct);

            Assert.Equal(0, exitCode);
            var scored = (await File.ReadAllLinesAsync(output, ct)).Select(l => JsonNode.Parse(l)!).ToArray();
            Assert.Equal(rows.Length, scored.Length);
            Assert.Equal("user-2999", (string?)scored[^1]["id"]);
            var last = Assert.Single(scored[^1]["outputs"]!.AsObject()).Value!.AsArray().Select(v => (float)v!).ToArray();
            Assert.Equal(model.Forward(rows[^1], 1)[2], last[2], 1e-5f);
            var error = JsonNode.Parse(Assert.Single(await File.ReadAllLinesAsync(Path.Combine(folder.FullName, "scores.errors.jsonl"), ct)))!;
            Assert.Equal("user-bad", (string?)error["id"]);
            Assert.Contains("has 4 columns; the header has 5", (string?)error["error"]);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task SubmissionIsCheckedBeforeAnythingIsStored()
    {
        var ct = TestTimeout.After(30);
        using var unknownModel = await _http.PostAsync("v1/batches?model=no-such-model", new StringContent("{\"id\":1}"), ct);
        Assert.Equal(HttpStatusCode.NotFound, unknownModel.StatusCode);
        var (name, _) = await RegisterAsync("checks", ct);
        using var noFile = await _http.PostAsync($"v1/batches?model={name}", null, ct);
        Assert.Equal(HttpStatusCode.BadRequest, noFile.StatusCode);
        using var badChunk = await _http.PostAsync($"v1/batches?model={name}&chunkSize=0", new StringContent("{\"id\":1}"), ct);
        Assert.Equal(HttpStatusCode.BadRequest, badChunk.StatusCode);
        using var unknownJob = await _http.GetAsync($"v1/batches/{Guid.NewGuid()}/output", ct);
        Assert.Equal(HttpStatusCode.NotFound, unknownJob.StatusCode);
    }

    private async Task<List<JsonNode>> DownloadLinesAsync(Guid id, bool errors, CancellationToken ct)
    {
        var buffer = new MemoryStream();
        await system.Client.DownloadBulkResultsAsync(id, buffer, errors, ct);
        return Encoding.UTF8.GetString(buffer.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
    }
}
