using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises the retention sweeper (<see cref="IRetentionStore"/>): bounded, idempotent sweeps scoped to one tenant and kind, tombstones that tell "gone" from "never was", and a lease that one owner holds at a time. Each test sweeps its own tenant.</summary>
public abstract class RetentionStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task ExpiringPayloadsDropsTheOutputsOfOldFinishedJobsAndLeavesATombstone()
    {
        var tenant = UniqueTenant();
        var old = FinishedJob(tenant, LongAgo);
        var recent = FinishedJob(tenant, LongAgo.AddHours(2));
        var running = NewJob(UniqueModel(), JobStatus.Running, LongAgo.AddHours(-1), tenantId: tenant);
        var otherKind = FinishedJob(tenant, LongAgo, JobKind.Train);
        var otherTenant = FinishedJob(UniqueTenant(), LongAgo);
        await Jobs.UpsertAsync([old, recent, running, otherKind, otherTenant], Ct);
        var expiredAt = LongAgo.AddDays(30).AddTicks(1234567);

        var batch = await Retention.ExpireJobPayloadsAsync(tenant, JobKind.Predict, LongAgo.AddHours(1), expiredAt, 100, Ct);

        Assert.Equal(1, batch.Count);
        Assert.True(batch.Bytes > 0, "the outputs' bytes are counted");
        var swept = await Jobs.GetAsync(old.TenantId, old.JobId, Ct);
        Assert.Equal((JobStatus.Succeeded, (IReadOnlyList<InferTensor>?)null, expiredAt), (swept!.Status, swept.Outputs, swept.PayloadExpiredAt));
        Assert.NotNull((await Jobs.GetAsync(recent.TenantId, recent.JobId, Ct))!.Outputs);
        Assert.Null((await Jobs.GetAsync(recent.TenantId, recent.JobId, Ct))!.PayloadExpiredAt);
        Assert.NotNull((await Jobs.GetAsync(otherKind.TenantId, otherKind.JobId, Ct))!.Outputs);
        Assert.NotNull((await Jobs.GetAsync(otherTenant.TenantId, otherTenant.JobId, Ct))!.Outputs);
        Assert.Equal(JobStatus.Running, (await Jobs.GetAsync(running.TenantId, running.JobId, Ct))!.Status);
        Assert.Equal(expiredAt, (await Jobs.GetManyAsync([JobKey.Of(old)], includeOutputs: false, Ct))[0].PayloadExpiredAt);

        Assert.Equal(0, (await Retention.ExpireJobPayloadsAsync(tenant, JobKind.Predict, LongAgo.AddHours(1), expiredAt.AddDays(1), 100, Ct)).Count);
        Assert.Equal(expiredAt, (await Jobs.GetAsync(old.TenantId, old.JobId, Ct))!.PayloadExpiredAt);
    }

    [Fact]
    public async Task EachSweepCallRemovesAtMostItsLimit()
    {
        var tenant = UniqueTenant();
        await Jobs.UpsertAsync([.. Enumerable.Range(0, 5).Select(i => FinishedJob(tenant, LongAgo.AddMinutes(i)))], Ct);

        var payloads = await SweepInBatchesAsync(() => Retention.ExpireJobPayloadsAsync(tenant, JobKind.Predict, LongAgo.AddDays(1), LongAgo.AddDays(2), 2, Ct));
        var records = await SweepInBatchesAsync(() => Retention.DeleteJobRecordsAsync(tenant, JobKind.Predict, LongAgo.AddDays(1), 2, Ct));

        Assert.Equal([2, 2, 1, 0], payloads);
        Assert.Equal([2, 2, 1, 0], records);
        Assert.Empty((await Jobs.ListAsync(new JobQuery { TenantId = tenant }, Ct)).Items);
    }

    [Fact]
    public async Task DeletingRecordsRemovesOnlyTheTenantsFinishedJobsOfTheKindWithTheirHistory()
    {
        var tenant = UniqueTenant();
        var train = NewTrainJob(UniqueModel()) with { SubmittedAt = LongAgo };
        var trainRecord = FinishedJob(tenant, LongAgo, JobKind.Train, JobStatus.Failed) with { JobId = train.JobId, Model = train.Model };
        await Jobs.UpsertAsync([trainRecord], Ct);
        await Events.AppendJobEventsAsync(tenant, train.JobId, [new JobEventView { Sequence = 0, Type = "failed", At = LongAgo }], Ct);
        var predict = FinishedJob(tenant, LongAgo);
        var queued = NewJob(UniqueModel(), JobStatus.Queued, LongAgo, JobKind.Train, tenant);
        await Jobs.UpsertAsync([predict, queued], Ct);

        // Another tenant's job under the same id (ids are per tenant), with its own history: not this tenant's to sweep.
        var otherTenant = UniqueTenant();
        await Jobs.UpsertAsync([trainRecord with { TenantId = otherTenant }], Ct);
        await Events.AppendJobEventsAsync(otherTenant, train.JobId, [new JobEventView { Sequence = 0, Type = "failed", At = LongAgo }], Ct);

        var batch = await Retention.DeleteJobRecordsAsync(tenant, JobKind.Train, LongAgo.AddDays(1), 100, Ct);

        Assert.Equal(1, batch.Count);
        Assert.Null(await Jobs.GetAsync(tenant, train.JobId, Ct));
        Assert.Empty(await Events.ListJobEventsAsync(tenant, train.JobId, 0, 100, Ct));
        Assert.NotNull(await Jobs.GetAsync(otherTenant, train.JobId, Ct));
        Assert.Single(await Events.ListJobEventsAsync(otherTenant, train.JobId, 0, 100, Ct));
        Assert.NotNull(await Jobs.GetAsync(predict.TenantId, predict.JobId, Ct));
        Assert.NotNull(await Jobs.GetAsync(queued.TenantId, queued.JobId, Ct));
    }

    [Fact]
    public async Task AnExpiredFileKeepsItsRecordWithTheTimeAndItsContentIsGone()
    {
        var tenant = UniqueTenant();
        var dataset = await Datasets.AddDatasetAsync(tenant, "old.csv", new MemoryStream(Encoding.UTF8.GetBytes("x,y\n1,2\n")), Ct);
        var expiredAt = DateTimeOffset.UtcNow.AddTicks(-7);

        var batch = await Retention.ExpireDatasetsAsync(tenant, DateTimeOffset.UtcNow.AddMinutes(1), expiredAt, 10, Ct);

        Assert.Equal(new SweepBatch(1, dataset.SizeBytes), batch);
        var stored = await Datasets.GetDatasetAsync(tenant, dataset.Id, Ct);
        Assert.Equal(expiredAt, stored!.ExpiredAt);
        var gone = await Assert.ThrowsAsync<StoredObjectExpiredException>(() => Datasets.CopyDatasetToAsync(tenant, dataset.Id, Stream.Null, Ct));
        Assert.Equal(expiredAt, gone.ExpiredAt);
        Assert.Equal(0, (await Retention.ExpireDatasetsAsync(tenant, DateTimeOffset.UtcNow.AddMinutes(1), expiredAt, 10, Ct)).Count);
    }

    [Fact]
    public async Task AFileABulkJobStillReadsIsNotExpired()
    {
        var tenant = UniqueTenant();
        var dataset = await Datasets.AddDatasetAsync(tenant, "in-use.csv", new MemoryStream("x\n1\n"u8.ToArray()), Ct);
        var bulk = Bulk;
        Assert.True(await bulk.CreateBulkJobAsync(RunningBulkJob(tenant, dataset.Id), Ct));

        Assert.Equal(0, (await Retention.ExpireDatasetsAsync(tenant, DateTimeOffset.UtcNow.AddMinutes(1), DateTimeOffset.UtcNow, 10, Ct)).Count);
        Assert.Null((await Datasets.GetDatasetAsync(tenant, dataset.Id, Ct))!.ExpiredAt);
    }

    [Fact]
    public async Task ABulkJobsChunksAreRemovedInBatchesAndItsResultsAnswerExpired()
    {
        var tenant = UniqueTenant();
        var bulk = Bulk;
        var job = RunningBulkJob(tenant, "file");
        Assert.True(await bulk.CreateBulkJobAsync(job, Ct));
        for (var chunk = 0; chunk < 3; chunk++)
        {
            await bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, chunk, 1, "{\"x\":1}\n"u8.ToArray(), Ct);
            await bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, chunk, new BulkChunkResult
            {
                Succeeded = 1,
                Failed = 0,
                Output = "{\"y\":2}\n"u8.ToArray(),
                Errors = default,
            }, Ct);
        }

        var expiredAt = DateTimeOffset.UtcNow;
        Assert.Equal(0, (await Retention.ExpireBulkOutputsAsync(tenant, DateTimeOffset.UtcNow.AddMinutes(1), expiredAt, 4, Ct)).Count);
        await bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Running], BulkJobStatus.Succeeded, cancellationToken: Ct);

        var batches = await SweepInBatchesAsync(() => Retention.ExpireBulkOutputsAsync(tenant, DateTimeOffset.UtcNow.AddMinutes(1), expiredAt, 4, Ct));

        Assert.Equal([4, 2, 0], batches);
        var stored = await bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, Ct);
        Assert.Equal((BulkJobStatus.Succeeded, 3L, expiredAt), (stored!.Status, stored.Succeeded, stored.OutputsExpiredAt));
        var gone = await Assert.ThrowsAsync<StoredObjectExpiredException>(
            () => bulk.CopyBulkResultsToAsync(job.TenantId, job.BulkJobId, BulkResultKind.Output, Stream.Null, Ct));
        Assert.Equal(expiredAt, gone.ExpiredAt);
    }

    [Fact]
    public async Task ALeaseIsHeldByOneOwnerUntilReleasedOrRunOut()
    {
        var name = $"lease-{Guid.NewGuid():N}";

        Assert.True(await Retention.TryAcquireLeaseAsync(name, "a", TimeSpan.FromMinutes(5), Ct));
        Assert.False(await Retention.TryAcquireLeaseAsync(name, "b", TimeSpan.FromMinutes(5), Ct));
        Assert.True(await Retention.TryAcquireLeaseAsync(name, "a", TimeSpan.FromMinutes(5), Ct));
        await Retention.ReleaseLeaseAsync(name, "b", Ct);
        Assert.False(await Retention.TryAcquireLeaseAsync(name, "b", TimeSpan.FromMinutes(5), Ct));
        await Retention.ReleaseLeaseAsync(name, "a", Ct);
        Assert.True(await Retention.TryAcquireLeaseAsync(name, "b", TimeSpan.FromMilliseconds(1), Ct));

        await Task.Delay(50, Ct);

        Assert.True(await Retention.TryAcquireLeaseAsync(name, "a", TimeSpan.FromMinutes(5), Ct));
    }

    [Fact]
    public async Task TheLastSweepReportRoundTripsAndTheSizeIsKnown()
    {
        var report = new SweepReport
        {
            StartedAt = LongAgo,
            FinishedAt = LongAgo.AddSeconds(3),
            Owner = "api-1",
            JobPayloads = new SweepCounts(10, 2048),
            JobRecords = new SweepCounts(3, 100),
            Files = SweepCounts.Zero,
            BulkOutputs = new SweepCounts(7, 1 << 20),
            ReclaimedBytes = 4096,
            Batches = 5,
        };

        await Retention.SaveSweepReportAsync(report, Ct);
        var size = await Retention.GetSizeAsync(Ct);

        Assert.Equal(report, await Retention.GetSweepReportAsync(Ct));
        Assert.True(size.TotalBytes > 0 && size.FreeBytes >= 0 && size.FreeBytes <= size.TotalBytes, $"{size}");
    }

    [Fact]
    public async Task ATenantsStoredBytesCountItsFilesAndBulkChunksUntilTheyExpire()
    {
        var tenant = UniqueTenant();
        var bulk = Bulk;
        Assert.Equal(0, await Retention.GetStoredBytesAsync(tenant, Ct));
        var dataset = await Datasets.AddDatasetAsync(tenant, "f.csv", new MemoryStream(new byte[1000]), Ct);
        await Datasets.AddDatasetAsync(UniqueTenant(), "other.csv", new MemoryStream(new byte[5000]), Ct);
        var job = RunningBulkJob(tenant, dataset.Id);
        Assert.True(await bulk.CreateBulkJobAsync(job, Ct));
        await bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, 1, new byte[200], Ct);
        await bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 0, new BulkChunkResult { Succeeded = 1, Failed = 1, Output = new byte[300], Errors = new byte[40] }, Ct);

        var stored = await Retention.GetStoredBytesAsync(tenant, Ct);
        await bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Running], BulkJobStatus.Succeeded, cancellationToken: Ct);
        await Retention.ExpireBulkOutputsAsync(tenant, DateTimeOffset.UtcNow.AddMinutes(1), DateTimeOffset.UtcNow, 10, Ct);
        await Retention.ExpireDatasetsAsync(tenant, DateTimeOffset.UtcNow.AddMinutes(1), DateTimeOffset.UtcNow, 10, Ct);

        // The embedded store counts payload bytes exactly; a document store may add its documents' few bytes of framing.
        Assert.InRange(stored, 1000 + 200 + 300 + 40, 1000 + 200 + 300 + 40 + 200);
        Assert.Equal(0, await Retention.GetStoredBytesAsync(tenant, Ct));
    }
}
