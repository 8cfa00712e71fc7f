using System.Globalization;
using System.IO.Compression;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>A worker with small bulk limits: 1,000 records, or 1 MiB once decompressed, per bulk job.</summary>
public sealed class BoundedBulkSystem : DistributedSystem
{
    public const int MaxRecords = 1_000;
    public const int MaxDecompressedBytes = 1 << 20;

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Workers__MaxBulkRecords"] = MaxRecords.ToString(CultureInfo.InvariantCulture),
        ["Workers__MaxBulkDecompressedBytes"] = MaxDecompressedBytes.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>A bulk file that passes a limit ends the job failed with the reason, and what was scored stays readable.</summary>
public sealed class BulkLimitTests(BoundedBulkSystem system) : IClassFixture<BoundedBulkSystem>
{
    [Theory]
    [InlineData(5_000, 0, false, "more than 1000 records, the limit per bulk job (Workers:MaxBulkRecords)")]
    // 2,000 records of 4 KB each: 8 MB of lines from a gzip of a few kilobytes, past the byte limit well before the record limit.
    [InlineData(2_000, 4_000, true, "more than 1048576 bytes once decompressed, the limit per bulk job (Workers:MaxBulkDecompressedBytes)")]
    public async Task AFilePastABulkLimitEndsTheJobFailedWithTheReasonAndKeepsWhatWasScored(int records, int padding, bool gzip, string reason)
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("bounded");
        await system.Client.RegisterModelAsync(name, new MemoryStream(TestModels.Classifier(seed: 31).Onnx), cancellationToken: ct);
        var note = new string('x', padding);
        var lines = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, records).Select(i => $"{{\"id\":{i},\"features\":[1,2,3,4],\"note\":\"{note}\"}}\n")));
        var file = new MemoryStream();
        if (gzip)
        {
            using var zip = new GZipStream(file, CompressionLevel.SmallestSize, leaveOpen: true);
            zip.Write(lines);
        }
        else
        {
            file.Write(lines);
        }

        file.Position = 0;
        var job = await system.Client.SubmitBulkAsync(new BulkScoreRequest { Model = name, Input = file, ChunkSize = 100 }, ct);
        job = await system.Client.WaitForBulkAsync(job.Id, cancellationToken: ct);

        Assert.Equal(BulkJobStatus.Failed, job.Status);
        Assert.Contains(reason, job.Error, StringComparison.Ordinal);
        var output = new MemoryStream();
        await system.Client.DownloadBulkResultsAsync(job.Id, output, cancellationToken: ct);
        var scored = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Chunks already being scored when the job failed may still store their results (each with its count, in one
        // write): every line of the output is counted, read after the download.
        var counted = (await system.Client.GetBulkAsync(job.Id, ct))!.Counts.Succeeded;
        Assert.True(scored.Length <= counted, $"{scored.Length} output lines, {counted} counted");
        Assert.True(scored.Length <= BoundedBulkSystem.MaxRecords, $"{scored.Length} records scored");
    }
}
