using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>The distributed layout (API, a worker process, RabbitMQ, the embedded store) with <c>Store:Encryption</c> on,
/// one master key given to every process.</summary>
public sealed class EncryptedSystem : DistributedSystem
{
    private readonly string _masterKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    protected override IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>
    {
        ["Store:Encryption:Enabled"] = "true",
        ["Store:Encryption:MasterKey"] = _masterKey,
    };

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Store__Encryption__Enabled"] = "true",
        ["Store__Encryption__MasterKey"] = _masterKey,
    };
}

/// <summary>Encryption at rest end to end: a bulk job's uploaded file, its chunks, results and errors pass through the
/// API and a worker process, come back as written, and leave no plaintext in the store's files.</summary>
public sealed class EncryptionAtRestTests(EncryptedSystem system) : IClassFixture<EncryptedSystem>
{
    private const string Canary = "encrypted-canary-5d21c8";

    [Fact]
    public async Task ABulkJobRunsOnAnEncryptedStoreAndLeavesNoPlaintextOfItsRecordsInTheFile()
    {
        var ct = TestTimeout.After(180);
        var (model, onnx) = TestModels.Classifier(seed: 61);
        var name = TestModels.UniqueName("encrypted");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        var random = new Random(61);
        var records = Enumerable.Range(0, 700).Select(i => (Id: $"{Canary}-{i}", Values: TestModels.RandomRecord(random))).ToArray();
        var file = new StringBuilder();
        foreach (var (id, values) in records)
        {
            file.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"{id}\",\"features\":[{string.Join(',', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}]}}\n");
        }

        file.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"{Canary}-bad\",\"features\":[1,2,3]}}\n");

        var submitted = await system.Client.SubmitBulkAsync(new BulkScoreRequest
        {
            Model = name,
            Input = new MemoryStream(Encoding.UTF8.GetBytes(file.ToString())),
            ChunkSize = 200,
        }, ct);
        var job = await system.Client.WaitForBulkAsync(submitted.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Succeeded, job.Status);
        Assert.Equal(new BulkJobCounts { Total = 701, Succeeded = 700, Failed = 1 }, job.Counts);
        var output = await DownloadLinesAsync(job.Id, errors: false, ct);
        Assert.Equal(records.Select(r => r.Id), output.Select(o => (string)o["id"]!));
        foreach (var (line, (_, values)) in output.Zip(records))
        {
            var expected = model.Forward(values, 1);
            var actual = Assert.Single(line["outputs"]!.AsObject()).Value!.AsArray().Select(v => (float)v!).ToArray();
            Assert.Equal(expected.Length, actual.Length);
            for (var k = 0; k < expected.Length; k++)
            {
                Assert.Equal(expected[k], actual[k], 1e-5f);
            }
        }

        var error = Assert.Single(await DownloadLinesAsync(job.Id, errors: true, ct));
        Assert.Equal($"{Canary}-bad", (string?)error["id"]);

        var needle = Encoding.UTF8.GetBytes(Canary);
        var directory = Path.GetDirectoryName(system.StorePath)!;
        var holding = Directory.GetFiles(directory, Path.GetFileName(system.StorePath) + "*")
            .Where(f => ReadShared(f).AsSpan().IndexOf(needle) >= 0).ToArray();
        Assert.True(holding.Length == 0, $"plaintext of a record in {string.Join(", ", holding)}");
    }

    private async Task<List<JsonNode>> DownloadLinesAsync(Guid id, bool errors, CancellationToken ct)
    {
        var buffer = new MemoryStream();
        await system.Client.DownloadBulkResultsAsync(id, buffer, errors, ct);
        return [.. Encoding.UTF8.GetString(buffer.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];
    }

    // The store is open in the API and the worker: read the file as it is on disk, beside them.
    private static byte[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
