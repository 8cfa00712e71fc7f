using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>
/// What every store promises for bulk jobs. Each test works on bulk jobs of its own (new ids); the listing test uses
/// submission times far in the future, so the newest jobs of the store are its own.
/// </summary>
public abstract class BulkStoreContractTests : StoreContractTests
{
    private static BulkJobRecord NewBulkJob(DateTimeOffset? submittedAt = null) => new()
    {
        BulkJobId = Guid.CreateVersion7(),
        Model = $"model-{Guid.NewGuid():N}",
        Status = BulkJobStatus.Validating,
        InputFileId = $"file-{Guid.NewGuid():N}",
        SubmittedAt = submittedAt ?? DateTimeOffset.UtcNow,
    };

    private async Task<BulkJobRecord> CreateAsync(BulkJobRecord? job = null)
    {
        job ??= NewBulkJob();
        Assert.True(await Bulk.CreateBulkJobAsync(job, Ct));
        return job;
    }

    private static BulkChunkResult Result(int succeeded, int failed, string output = "", string errors = "", bool skipped = false) => new()
    {
        Succeeded = succeeded,
        Failed = failed,
        Skipped = skipped,
        Output = Encoding.UTF8.GetBytes(output),
        Errors = Encoding.UTF8.GetBytes(errors),
    };

    private async Task<string> CopyAsync(Guid bulkJobId, BulkResultKind kind)
    {
        using var destination = new MemoryStream();
        await Bulk.CopyBulkResultsToAsync(Tenants.DefaultTenantId, bulkJobId, kind, destination, Ct);
        return Encoding.UTF8.GetString(destination.ToArray());
    }

    [Fact]
    public async Task EveryBulkJobFieldRoundTripsAndASecondCreateKeepsTheFirst()
    {
        var job = NewBulkJob(new DateTimeOffset(2026, 11, 23, 10, 11, 12, TimeSpan.FromHours(2)).AddTicks(1234567)) with
        {
            ModelVersion = 4,
            Format = BulkInputFormat.Csv,
            ChunkSize = 500,
            CallbackUrl = "https://example.test/hook?a=ä",
            ExpiresAt = new DateTimeOffset(2026, 11, 24, 10, 11, 12, TimeSpan.Zero).AddTicks(7),
        };
        await CreateAsync(job);

        Assert.False(await Bulk.CreateBulkJobAsync(job with { Model = "other", InputFileId = "other", Status = BulkJobStatus.Failed }, Ct));

        var stored = await Bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, Ct);
        Assert.Equal(job, stored);
        Assert.Equal(job.SubmittedAt.UtcTicks, stored!.SubmittedAt.UtcTicks);
        Assert.Null(stored.ChunksTotal);
        Assert.False(stored.AllChunksDone);
        Assert.Null(await Bulk.GetBulkJobAsync(Tenants.DefaultTenantId, Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task TransitionsMoveOnlyFromTheGivenStatusesAndStampStartAndEnd()
    {
        var job = await CreateAsync(NewBulkJob() with { ModelVersion = null });

        var unmoved = await Bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Running], BulkJobStatus.Finalizing, cancellationToken: Ct);
        Assert.Equal(BulkJobStatus.Validating, unmoved!.Status);

        var running = await Bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Validating], BulkJobStatus.Running, modelVersion: 3,
            cancellationToken: Ct);
        Assert.Equal(BulkJobStatus.Running, running!.Status);
        Assert.Equal(3, running.ModelVersion);
        var startedAt = Assert.NotNull(running.StartedAt);
        Assert.Null(running.CompletedAt);

        // Entering Running again keeps the first start; no version given keeps the pinned one.
        var cancelling = await Bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Running], BulkJobStatus.Cancelling, cancellationToken: Ct);
        Assert.Equal(BulkJobStatus.Cancelling, cancelling!.Status);
        var again = await Bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Cancelling], BulkJobStatus.Running, cancellationToken: Ct);
        Assert.Equal((BulkJobStatus.Running, startedAt, 3), (again!.Status, again.StartedAt!.Value, again.ModelVersion!.Value));

        var failed = await Bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Validating, BulkJobStatus.Running], BulkJobStatus.Failed,
            error: "model gone", cancellationToken: Ct);
        Assert.Equal((BulkJobStatus.Failed, "model gone", startedAt), (failed!.Status, failed.Error, failed.StartedAt!.Value));
        Assert.True(failed.IsFinal);
        Assert.True(failed.CompletedAt >= startedAt);

        // A final job stays final: a late transition from a running state does not move it.
        var late = await Bulk.TransitionBulkJobAsync(job.TenantId, job.BulkJobId, [BulkJobStatus.Running], BulkJobStatus.Succeeded, cancellationToken: Ct);
        Assert.Equal(failed, late);
        Assert.Equal(failed, await Bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, Ct));

        Assert.Null(await Bulk.TransitionBulkJobAsync(Tenants.DefaultTenantId, Guid.NewGuid(), [BulkJobStatus.Validating], BulkJobStatus.Running, cancellationToken: Ct));
    }

    [Fact]
    public async Task TwoTenantsHoldABulkJobUnderOneIdWithChunksAndResultsOfTheirOwn()
    {
        // Bulk job ids are unique per tenant: beta's job under alpha's id is created beside it, and neither sees the other's
        // chunks, counts, results or moves.
        var alphas = await CreateAsync(NewBulkJob() with { TenantId = "alpha" });
        var betas = await CreateAsync(alphas with { TenantId = "beta", Model = "beta-model" });

        Assert.True(await Bulk.SaveBulkChunkInputAsync("alpha", alphas.BulkJobId, 0, 3, new byte[] { 1 }, Ct));
        Assert.True(await Bulk.SaveBulkChunkInputAsync("beta", alphas.BulkJobId, 0, 5, new byte[] { 2 }, Ct));
        await Bulk.SaveBulkChunkResultAsync("beta", alphas.BulkJobId, 0, Result(5, 0, "beta\n"), Ct);
        await Bulk.CompleteBulkSplitAsync("beta", alphas.BulkJobId, 1, Ct);
        await Bulk.TransitionBulkJobAsync("beta", alphas.BulkJobId, [BulkJobStatus.Validating], BulkJobStatus.Cancelling, cancellationToken: Ct);
        await Bulk.DeleteBulkChunkInputsAsync("beta", alphas.BulkJobId, Ct);

        var alpha = (await Bulk.GetBulkJobAsync("alpha", alphas.BulkJobId, Ct))!;
        var beta = (await Bulk.GetBulkJobAsync("beta", alphas.BulkJobId, Ct))!;
        Assert.Equal((alphas.Model, BulkJobStatus.Validating, 3L, 0, (int?)null), (alpha.Model, alpha.Status, alpha.Total, alpha.ChunksDone, alpha.ChunksTotal));
        Assert.Equal((betas.Model, BulkJobStatus.Cancelling, 5L, 1, (int?)1), (beta.Model, beta.Status, beta.Total, beta.ChunksDone, beta.ChunksTotal));
        Assert.Equal([1], await Bulk.GetBulkChunkInputAsync("alpha", alphas.BulkJobId, 0, Ct));
        Assert.Null(await Bulk.GetBulkChunkInputAsync("beta", alphas.BulkJobId, 0, Ct));
        using var alphaOutput = new MemoryStream();
        await Bulk.CopyBulkResultsToAsync("alpha", alphas.BulkJobId, BulkResultKind.Output, alphaOutput, Ct);
        Assert.Empty(alphaOutput.ToArray());
        Assert.Null(await Bulk.GetBulkJobAsync("gamma", alphas.BulkJobId, Ct));
    }

    [Fact]
    public async Task AChunkInputIsStoredAndCountedOnlyTheFirstTime()
    {
        var job = await CreateAsync();
        byte[] first = [1, 2, 3, 0, 255];

        Assert.True(await Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, 3, first, Ct));
        Assert.False(await Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, 99, new byte[] { 9 }, Ct));
        Assert.True(await Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 1, 2, new byte[] { 7, 7 }.AsMemory(1), Ct));

        Assert.Equal(5, (await Bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, Ct))!.Total);
        Assert.Equal(first, await Bulk.GetBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, Ct));
        Assert.Equal([7], await Bulk.GetBulkChunkInputAsync(job.TenantId, job.BulkJobId, 1, Ct));
        Assert.Null(await Bulk.GetBulkChunkInputAsync(job.TenantId, job.BulkJobId, 2, Ct));
        Assert.Null(await Bulk.GetBulkChunkInputAsync(Tenants.DefaultTenantId, Guid.NewGuid(), 0, Ct));
    }

    [Fact]
    public async Task AChunkResultIsCountedOnlyTheFirstTimeAndSkippedChunksCountAsDone()
    {
        var job = await CreateAsync();

        var first = await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 0, Result(8, 2, "a\n", "e\n"), Ct);
        Assert.Equal(new BulkProgress(true, 1, null, 0), first);

        var repeat = await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 0, Result(10, 0, "other\n"), Ct);
        Assert.Equal(new BulkProgress(false, 1, null, 0), repeat);

        var skipped = await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 1, Result(0, 0, skipped: true), Ct);
        Assert.Equal(new BulkProgress(true, 2, null, 1), skipped);

        var stored = (await Bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, Ct))!;
        Assert.Equal((8L, 2L, 2), (stored.Succeeded, stored.Failed, stored.ChunksDone));
        Assert.Equal("a\n", await CopyAsync(job.BulkJobId, BulkResultKind.Output));
    }

    [Fact]
    public async Task AllChunksAreDoneOnceTheSplitIsCompleteAndEveryChunkIsSaved()
    {
        var job = await CreateAsync();
        await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 0, Result(1, 0, "a\n"), Ct);

        var split = await Bulk.CompleteBulkSplitAsync(job.TenantId, job.BulkJobId, 2, Ct);
        Assert.Equal(new BulkProgress(true, 1, 2, 0), split);
        Assert.False(split.AllChunksDone);
        Assert.Equal(new BulkProgress(false, 1, 2, 0), await Bulk.CompleteBulkSplitAsync(job.TenantId, job.BulkJobId, 2, Ct));

        var last = await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 1, Result(1, 0, "b\n"), Ct);
        Assert.True(last.Recorded);
        Assert.True(last.AllChunksDone);
        var stored = (await Bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, Ct))!;
        Assert.Equal((2, 2), (stored.ChunksDone, stored.ChunksTotal!.Value));
        Assert.True(stored.AllChunksDone);

        var empty = await CreateAsync();
        Assert.True((await Bulk.CompleteBulkSplitAsync(empty.TenantId, empty.BulkJobId, 0, Ct)).AllChunksDone);
    }

    [Fact]
    public async Task ResultsAreCopiedInChunkOrderWhateverTheOrderTheyWereSavedIn()
    {
        var job = await CreateAsync();
        await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 2, Result(1, 1, "{\"id\":\"c\"}\n", "{\"id\":\"z\"}\n"), Ct);
        await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 0, Result(1, 0, "{\"id\":\"a\"}\n"), Ct);
        await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 3, Result(0, 0, skipped: true), Ct);
        await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 1, Result(1, 1, "{\"id\":\"b\"}\n", "{\"id\":\"y\"}\n"), Ct);

        Assert.Equal("{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n", await CopyAsync(job.BulkJobId, BulkResultKind.Output));
        Assert.Equal("{\"id\":\"y\"}\n{\"id\":\"z\"}\n", await CopyAsync(job.BulkJobId, BulkResultKind.Errors));

        var nothingYet = await CreateAsync();
        Assert.Equal("", await CopyAsync(nothingYet.BulkJobId, BulkResultKind.Output));
    }

    [Fact]
    public async Task LargeChunkResultsAreCopiedByteForByte()
    {
        var job = await CreateAsync();
        var random = new Random(7);
        var chunks = Enumerable.Range(0, 12).Select(_ =>
        {
            var bytes = new byte[random.Next(50_000, 150_000)];
            random.NextBytes(bytes);
            return bytes;
        }).ToList();
        foreach (var index in Enumerable.Range(0, chunks.Count).Reverse())
        {
            await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, index, new BulkChunkResult
            {
                Succeeded = 1,
                Failed = 0,
                Output = chunks[index],
                Errors = ReadOnlyMemory<byte>.Empty,
            }, Ct);
        }

        using var destination = new MemoryStream();
        await Bulk.CopyBulkResultsToAsync(job.TenantId, job.BulkJobId, BulkResultKind.Output, destination, Ct);
        Assert.Equal(chunks.SelectMany(c => c).ToArray(), destination.ToArray());
    }

    [Fact]
    public async Task AnUnknownBulkJobHasNoResultsToCopyAndTakesNoChunks()
    {
        var unknown = Guid.NewGuid();
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Bulk.CopyBulkResultsToAsync(Tenants.DefaultTenantId, unknown, BulkResultKind.Output, Stream.Null, Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Bulk.CopyBulkResultsToAsync(Tenants.DefaultTenantId, unknown, BulkResultKind.Errors, Stream.Null, Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Bulk.SaveBulkChunkResultAsync(Tenants.DefaultTenantId, unknown, 0, Result(1, 0, "a\n"), Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Bulk.SaveBulkChunkInputAsync(Tenants.DefaultTenantId, unknown, 0, 1, new byte[] { 1 }, Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Bulk.CompleteBulkSplitAsync(Tenants.DefaultTenantId, unknown, 1, Ct));
        Assert.Null(await Bulk.GetBulkChunkInputAsync(Tenants.DefaultTenantId, unknown, 0, Ct));
    }

    [Fact]
    public async Task DeletingChunkInputsKeepsResultsAndTheCounts()
    {
        var job = await CreateAsync();
        await Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, 1, new byte[] { 1 }, Ct);
        await Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 1, 1, new byte[] { 2 }, Ct);
        await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 0, Result(1, 0, "a\n"), Ct);
        await Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, 1, Result(0, 1, "", "e\n"), Ct);

        await Bulk.DeleteBulkChunkInputsAsync(job.TenantId, job.BulkJobId, Ct);
        await Bulk.DeleteBulkChunkInputsAsync(job.TenantId, job.BulkJobId, Ct);

        Assert.Null(await Bulk.GetBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, Ct));
        Assert.Null(await Bulk.GetBulkChunkInputAsync(job.TenantId, job.BulkJobId, 1, Ct));
        Assert.Equal("a\n", await CopyAsync(job.BulkJobId, BulkResultKind.Output));
        Assert.Equal("e\n", await CopyAsync(job.BulkJobId, BulkResultKind.Errors));

        // A late repeat of the split does not count its records again.
        Assert.False(await Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, 0, 1, new byte[] { 1 }, Ct));
        var stored = (await Bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, Ct))!;
        Assert.Equal((2L, 1L, 1L, 2), (stored.Total, stored.Succeeded, stored.Failed, stored.ChunksDone));
    }

    [Fact]
    public async Task ConcurrentSavesOfDistinctAndRepeatedChunksCountEachChunkExactlyOnce()
    {
        const int chunks = 50;
        var job = await CreateAsync();

        // Every chunk saved twice, all at once, in a shuffled order: what redelivery and competing workers produce.
        var order = Enumerable.Range(0, chunks).Concat(Enumerable.Range(0, chunks)).OrderBy(_ => Random.Shared.Next()).ToList();
        var inputs = await Task.WhenAll(order.Select(i => Task.Run(() =>
            Bulk.SaveBulkChunkInputAsync(job.TenantId, job.BulkJobId, i, i + 1, new byte[] { (byte)i }, Ct), Ct)));
        var results = await Task.WhenAll(order.Select(i => Task.Run(() =>
            Bulk.SaveBulkChunkResultAsync(job.TenantId, job.BulkJobId, i, Result(i, 1, $"{i}\n", skipped: i % 10 == 0), Ct), Ct)));

        Assert.Equal(chunks, inputs.Count(isNew => isNew));
        Assert.Equal(chunks, results.Count(p => p.Recorded));
        Assert.Equal(Enumerable.Range(1, chunks), results.Where(p => p.Recorded).Select(p => p.ChunksDone).Order());

        var progress = await Bulk.CompleteBulkSplitAsync(job.TenantId, job.BulkJobId, chunks, Ct);
        Assert.Equal(new BulkProgress(true, chunks, chunks, chunks / 10), progress);
        var stored = (await Bulk.GetBulkJobAsync(job.TenantId, job.BulkJobId, Ct))!;
        Assert.Equal(Enumerable.Range(1, chunks).Sum(), stored.Total);
        Assert.Equal(Enumerable.Range(0, chunks).Sum(), stored.Succeeded);
        Assert.Equal(chunks, stored.Failed);
        Assert.Equal(string.Concat(Enumerable.Range(0, chunks).Select(i => $"{i}\n")), await CopyAsync(job.BulkJobId, BulkResultKind.Output));
    }

    [Fact]
    public async Task BulkJobsAreListedPerTenantNewestFirstUpToTheLimit()
    {
        var farFuture = new DateTimeOffset(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var tenant = $"t{Guid.NewGuid():N}"[..20];
        var oldest = await CreateAsync(NewBulkJob(farFuture) with { TenantId = tenant });
        var newest = await CreateAsync(NewBulkJob(farFuture.AddHours(2)) with { TenantId = tenant });
        var middle = await CreateAsync(NewBulkJob(farFuture.AddHours(1)) with { TenantId = tenant });
        var otherTenants = await CreateAsync(NewBulkJob(farFuture.AddHours(3)));

        var listed = await Bulk.ListBulkJobsAsync(tenant, 2, Ct);
        Assert.Equal([newest.BulkJobId, middle.BulkJobId], listed.Select(j => j.BulkJobId));
        Assert.Equal(newest, listed[0]);

        var more = await Bulk.ListBulkJobsAsync(tenant, 3, Ct);
        Assert.Equal([newest.BulkJobId, middle.BulkJobId, oldest.BulkJobId], more.Select(j => j.BulkJobId));
        Assert.Equal(otherTenants.BulkJobId, (await Bulk.ListBulkJobsAsync(Tenants.DefaultTenantId, 1, Ct))[0].BulkJobId);
    }
}
