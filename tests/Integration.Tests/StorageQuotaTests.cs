using System.Net;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>The distributed layout with a storage quota of 100 kB per tenant.</summary>
public sealed class QuotaSystem : DistributedSystem
{
    public const long QuotaBytes = 100_000;

    protected override IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>
    {
        ["Quotas:StorageBytes"] = $"{QuotaBytes}",
    };
}

/// <summary>A tenant past its storage quota is refused new uploads and bulk jobs with the numbers, while the bulk job that took
/// it past runs to its end with every result readable.</summary>
public sealed class StorageQuotaTests(QuotaSystem system) : IClassFixture<QuotaSystem>
{
    [Fact]
    public async Task PastItsQuotaATenantIsRefusedNewUploadsAndBulkJobsWithTheReasonAndRunningWorkCompletes()
    {
        var ct = TestTimeout.After(180);
        var name = TestModels.UniqueName("quota");
        await system.Client.RegisterModelAsync(name, new MemoryStream(TestModels.Classifier(seed: 47).Onnx), cancellationToken: ct);
        var tooBig = await Assert.ThrowsAsync<AiaasApiException>(() => system.Client.UploadDatasetAsync("big.csv",
            new MemoryStream(new byte[QuotaSystem.QuotaBytes + 1]), ct));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);

        // About 60 kB of input, under the quota when submitted; its results take the tenant past it.
        var lines = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2_000).Select(i => $"{{\"id\":{i},\"features\":[1,2,3,{i % 5}]}}\n")));
        var bulk = await system.Client.SubmitBulkAsync(new BulkScoreRequest { Model = name, Input = new MemoryStream(lines), ChunkSize = 250 }, ct);
        bulk = await system.Client.WaitForBulkAsync(bulk.Id, cancellationToken: ct);

        Assert.Equal((BulkJobStatus.Succeeded, 2_000L), (bulk.Status, bulk.Counts.Succeeded));
        var results = new MemoryStream();
        await system.Client.DownloadBulkResultsAsync(bulk.Id, results, cancellationToken: ct);
        Assert.Equal(2_000, Encoding.UTF8.GetString(results.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        var upload = await Assert.ThrowsAsync<AiaasApiException>(() => system.Client.UploadDatasetAsync("small.csv", new MemoryStream("x\n1\n"u8.ToArray()), ct));
        var another = await Assert.ThrowsAsync<AiaasApiException>(() => system.Client.SubmitBulkAsync(
            new BulkScoreRequest { Model = name, Input = new MemoryStream("{\"features\":[1,2,3,4]}\n"u8.ToArray()) }, ct));

        foreach (var refused in new[] { upload, another })
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
            Assert.Equal("Storage quota exceeded", refused.Title);
            Assert.Contains($"its storage quota is {QuotaSystem.QuotaBytes} bytes", refused.Detail, StringComparison.Ordinal);
        }
    }
}
