using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises for jobs and their results (<see cref="IJobStore"/>).</summary>
public abstract class JobStoreContractTests : StoreContractTests
{
    [Fact]
    public async Task GetReturnsNullForAnUnknownJob()
    {
        Assert.Null(await Jobs.GetAsync(Tenants.DefaultTenantId, Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task EveryJobFieldRoundTrips()
    {
        var job = NewJob(UniqueModel(), JobStatus.Failed) with
        {
            Kind = JobKind.Train,
            ModelVersion = 7,
            SubmittedAt = new DateTimeOffset(2026, 11, 22, 10, 11, 12, TimeSpan.FromHours(2)).AddTicks(1234567),
            StartedAt = new DateTimeOffset(2026, 11, 22, 8, 11, 13, TimeSpan.Zero).AddTicks(1),
            CompletedAt = new DateTimeOffset(2026, 11, 22, 3, 11, 14, TimeSpan.FromHours(-5)).AddTicks(9999),
            Device = "cuda:1",
            BatchSize = 33,
            BatchId = "batch-ä-1",
            WorkerId = "worker/7",
            Error = "out of memory: \"tensor\" too large",
            Cached = true,
        };

        await Jobs.UpsertAsync([job], Ct);

        AssertSameJob(job, await Jobs.GetAsync(job.TenantId, job.JobId, Ct));
    }

    [Fact]
    public async Task OutputsRoundTripExactly()
    {
        float[] awkward =
        [
            0f, -0f, 1f, -1f, 0.1f, -0.1f, 1e-38f, -1e-38f, float.Epsilon, -float.Epsilon, 1.17549435e-38f,
            float.MaxValue, float.MinValue, 3.4028235e38f, -2.5e-12f, 123456.79f, float.NaN, float.PositiveInfinity,
            float.NegativeInfinity,
        ];
        var random = new Random(42);
        var noise = Enumerable.Range(0, 600).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-30, 30)))).ToArray();
        var job = NewJob(UniqueModel(), JobStatus.Succeeded) with
        {
            Outputs =
            [
                TestTensors.Fp32("awkward", [awkward.Length], awkward),
                TestTensors.Fp32("noise.2d", [20, 30], noise),
                TestTensors.Fp32("$scalar", [], [-7.25f]),
                TestTensors.Fp32("empty", [0], []),
                TestTensors.Of<long>("ids", "INT64", [1, 3], [long.MinValue, 0L, long.MaxValue]),
                TestTensors.Of<string>("labels", "BYTES", [2], ["naïve \"quoted\"\n", ""]),
                TestTensors.Of<bool>("mask", "BOOL", [2], [true, false]),
            ],
        };

        await Jobs.UpsertAsync([job], Ct);

        AssertSameJob(job, await Jobs.GetAsync(job.TenantId, job.JobId, Ct));
        AssertSameJob(job, Assert.Single(await Jobs.GetManyAsync([JobKey.Of(job)], includeOutputs: true, Ct)));
    }

    [Fact]
    public async Task InsertIfAbsentNeverOverwritesAFinishedJob()
    {
        var model = UniqueModel();
        var finished = NewJob(model, JobStatus.Succeeded) with
        {
            CompletedAt = DateTimeOffset.UtcNow,
            Outputs = [TestTensors.Fp32("y", [2], [1.5f, -2.5f])],
        };
        await Jobs.UpsertAsync([finished], Ct);

        var lateQueued = NewJob(model, JobStatus.Queued, submittedAt: finished.SubmittedAt) with { JobId = finished.JobId };
        var fresh = NewJob(model, JobStatus.Queued);
        await Jobs.InsertIfAbsentAsync([lateQueued, fresh], Ct);

        AssertSameJob(finished, await Jobs.GetAsync(finished.TenantId, finished.JobId, Ct));
        AssertSameJob(fresh, await Jobs.GetAsync(fresh.TenantId, fresh.JobId, Ct));
    }

    [Fact]
    public async Task CompleteWritesAResultOnceAndReportsWhatItWrote()
    {
        var model = UniqueModel();
        var queued = NewJob(model, JobStatus.Queued);
        await Jobs.InsertIfAbsentAsync([queued], Ct);
        var unknown = NewJob(model, JobStatus.Succeeded) with { BatchId = "batch-a", CompletedAt = DateTimeOffset.UtcNow };
        var first = queued with { Status = JobStatus.Succeeded, BatchId = "batch-a", CompletedAt = DateTimeOffset.UtcNow };

        var written = await Jobs.CompleteAsync([first, unknown], Ct);
        Assert.Equal(new HashSet<JobKey> { JobKey.Of(first), JobKey.Of(unknown) }, written.ToHashSet());

        // A second worker that ran the same jobs loses: nothing is overwritten and it is told so.
        var second = first with { BatchId = "batch-b", WorkerId = "w2" };
        var secondUnknown = unknown with { Status = JobStatus.Failed, BatchId = "batch-b", Error = "late" };
        Assert.Empty(await Jobs.CompleteAsync([second, secondUnknown], Ct));
        AssertSameJob(first, await Jobs.GetAsync(first.TenantId, first.JobId, Ct));
        AssertSameJob(unknown, await Jobs.GetAsync(unknown.TenantId, unknown.JobId, Ct));
    }

    [Fact]
    public async Task TwoTenantsStoreOneIdAndEachReadsItsOwn()
    {
        // Ids are unique per tenant (issue #13, finding 14): beta's job under an id alpha holds is a job of its own.
        var model = UniqueModel();
        var alphas = NewJob(model, JobStatus.Queued, tenantId: "alpha");
        var betas = alphas with { TenantId = "beta", Model = model + "-beta", SubmittedAt = alphas.SubmittedAt.AddSeconds(1) };
        await Jobs.InsertIfAbsentAsync([alphas], Ct);
        await Jobs.InsertIfAbsentAsync([betas], Ct);

        AssertSameJob(alphas, await Jobs.GetAsync("alpha", alphas.JobId, Ct));
        AssertSameJob(betas, await Jobs.GetAsync("beta", alphas.JobId, Ct));
        Assert.Null(await Jobs.GetAsync("gamma", alphas.JobId, Ct));
        var both = await Jobs.GetManyAsync([new JobKey("beta", alphas.JobId), new JobKey("alpha", alphas.JobId), new JobKey("gamma", alphas.JobId)],
            includeOutputs: false, Ct);
        Assert.Equal(["beta", "alpha"], both.Select(j => j.TenantId));

        // Listing and counting stay per tenant.
        Assert.Equal([alphas.JobId], (await Jobs.ListAsync(new JobQuery { TenantId = "alpha", Model = model }, Ct)).Items.Select(j => j.JobId));
        Assert.Equal([alphas.JobId], (await Jobs.ListAsync(new JobQuery { TenantId = "beta", Model = model + "-beta" }, Ct)).Items.Select(j => j.JobId));
        Assert.Equal(1, await Jobs.CountAsync(model, JobStatus.Queued, 10, Ct));
        Assert.Equal(1, await Jobs.CountAsync(model + "-beta", JobStatus.Queued, 10, Ct));
    }

    [Fact]
    public async Task CompletingOneTenantsJobNeverTouchesAnotherTenantsJobOfTheSameId()
    {
        var model = UniqueModel();
        var alphas = NewJob(model, JobStatus.Queued, tenantId: "alpha");
        var betas = alphas with { TenantId = "beta" };
        await Jobs.InsertIfAbsentAsync([alphas, betas], Ct);

        var betaDone = betas with { Status = JobStatus.Succeeded, CompletedAt = DateTimeOffset.UtcNow, WorkerId = "w-beta", Outputs = [TestTensors.Fp32("y", [1], [2])] };
        Assert.Equal([JobKey.Of(betas)], await Jobs.CompleteAsync([betaDone], Ct));
        AssertSameJob(alphas, await Jobs.GetAsync("alpha", alphas.JobId, Ct));
        await Jobs.UpsertAsync([betaDone with { Error = "beta's again" }], Ct);
        AssertSameJob(alphas, await Jobs.GetAsync("alpha", alphas.JobId, Ct));

        // Alpha's own job still completes, once, and beta's stays as beta wrote it.
        var alphaDone = alphas with { Status = JobStatus.Failed, CompletedAt = DateTimeOffset.UtcNow, WorkerId = "w-alpha", Error = "alpha's" };
        Assert.Equal([JobKey.Of(alphas)], await Jobs.CompleteAsync([alphaDone], Ct));
        Assert.Empty(await Jobs.CompleteAsync([alphaDone with { Error = "late" }], Ct));
        AssertSameJob(alphaDone, await Jobs.GetAsync("alpha", alphas.JobId, Ct));
        AssertSameJob(betaDone with { Error = "beta's again" }, await Jobs.GetAsync("beta", alphas.JobId, Ct));
    }

    [Fact]
    public async Task InsertIfAbsentKeepsTheFirstOfRepeatedIdsInOneBatch()
    {
        var first = NewJob(UniqueModel(), JobStatus.Queued);
        var repeat = first with { Status = JobStatus.Running, WorkerId = "w" };

        await Jobs.InsertIfAbsentAsync([first, repeat], Ct);

        AssertSameJob(first, await Jobs.GetAsync(first.TenantId, first.JobId, Ct));
    }

    [Fact]
    public async Task UpsertReplacesTheWholeBatch()
    {
        var model = UniqueModel();
        var queued = Enumerable.Range(0, 5)
            .Select(i => NewJob(model, JobStatus.Running) with { Error = "transient", Device = "cpu", WorkerId = "w1" })
            .ToList();
        await Jobs.InsertIfAbsentAsync(queued, Ct);

        var done = queued
            .Select((job, i) => job with
            {
                Status = JobStatus.Succeeded,
                ModelVersion = 3,
                Error = null,
                WorkerId = null,
                Device = "cuda:0",
                BatchSize = 5,
                BatchId = "b-1",
                CompletedAt = job.SubmittedAt.AddSeconds(1),
                Outputs = [TestTensors.Fp32("y", [1], [i])],
            })
            .ToList();
        var brandNew = NewJob(model, JobStatus.Failed) with { Error = "bad input" };
        await Jobs.UpsertAsync([.. done, brandNew], Ct);

        var stored = await Jobs.GetManyAsync([.. done.Select(JobKey.Of), JobKey.Of(brandNew)], includeOutputs: true, Ct);
        Assert.Equal(6, stored.Count);
        foreach (var expected in done.Append(brandNew))
        {
            AssertSameJob(expected, stored.Single(j => j.JobId == expected.JobId));
        }
    }

    [Fact]
    public async Task UpsertKeepsTheLastOfRepeatedIdsInOneBatch()
    {
        var first = NewJob(UniqueModel(), JobStatus.Running);
        var last = first with { Status = JobStatus.Cancelled };

        await Jobs.UpsertAsync([first, last], Ct);

        AssertSameJob(last, await Jobs.GetAsync(first.TenantId, first.JobId, Ct));
    }

    [Fact]
    public async Task EmptyBatchesAreAccepted()
    {
        await Jobs.InsertIfAbsentAsync([], Ct);
        await Jobs.UpsertAsync([], Ct);
        Assert.Empty(await Jobs.GetManyAsync([], includeOutputs: true, Ct));
    }

    [Fact]
    public async Task GetManyLeavesOutUnknownIdsAndOutputsWhenAsked()
    {
        var model = UniqueModel();
        var jobs = Enumerable.Range(0, 3)
            .Select(i => NewJob(model, JobStatus.Succeeded) with
            {
                Outputs = [TestTensors.Fp32("y", [1], [i])],
            })
            .ToList();
        await Jobs.UpsertAsync(jobs, Ct);
        JobKey[] asked = [new(jobs[0].TenantId, Guid.NewGuid()), JobKey.Of(jobs[2]), JobKey.Of(jobs[0]), new("other", jobs[1].JobId), JobKey.Of(jobs[1]), JobKey.Of(jobs[0])];

        var withOutputs = await Jobs.GetManyAsync(asked, includeOutputs: true, Ct);
        var withoutOutputs = await Jobs.GetManyAsync(asked, includeOutputs: false, Ct);

        Assert.Equal(jobs.Select(j => j.JobId).Order(), withOutputs.Select(j => j.JobId).Order());
        Assert.Equal(jobs.Select(j => j.JobId).Order(), withoutOutputs.Select(j => j.JobId).Order());
        foreach (var job in jobs)
        {
            AssertSameJob(job, withOutputs.Single(j => j.JobId == job.JobId));
            AssertSameJob(job with { Outputs = null }, withoutOutputs.Single(j => j.JobId == job.JobId));
        }
    }

    [Fact]
    public async Task ListPagesNewestFirstWithoutGapsOrRepeats()
    {
        var model = UniqueModel();
        var start = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

        // Three jobs per instant, so ties are broken by id across page boundaries; offsets vary but order by instant.
        var jobs = Enumerable.Range(0, 53)
            .Select(i => NewJob(model, JobStatus.Succeeded, start.AddTicks(i / 3 * 10_001).ToOffset(TimeSpan.FromHours(i % 5))) with
            {
                Outputs = [TestTensors.Fp32("y", [1], [i])],
            })
            .ToList();
        await Jobs.UpsertAsync(jobs, Ct);
        var expected = NewestFirst(jobs).Select(j => j.JobId).ToList();

        var seen = new List<JobRecord>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await Jobs.ListAsync(new JobQuery { Model = model, Limit = 10, Cursor = cursor }, Ct);
            Assert.InRange(page.Items.Count, 1, 10);
            seen.AddRange(page.Items);
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null && pages < 20);

        Assert.Equal(6, pages);
        Assert.Equal(expected, seen.Select(j => j.JobId).ToList());
        Assert.All(seen, j => Assert.Null(j.Outputs));
        AssertSameJob(jobs[0] with { Outputs = null }, seen.Single(j => j.JobId == jobs[0].JobId));
    }

    [Fact]
    public async Task ListEndsWithoutACursorWhenThePageIsExactlyFull()
    {
        var model = UniqueModel();
        await Jobs.UpsertAsync(Enumerable.Range(0, 4).Select(_ => NewJob(model, JobStatus.Queued)).ToList(), Ct);

        var first = await Jobs.ListAsync(new JobQuery { Model = model, Limit = 2 }, Ct);
        var second = await Jobs.ListAsync(new JobQuery { Model = model, Limit = 2, Cursor = first.NextCursor }, Ct);
        var none = await Jobs.ListAsync(new JobQuery { Model = UniqueModel() }, Ct);

        Assert.NotNull(first.NextCursor);
        Assert.Equal(2, second.Items.Count);
        Assert.Null(second.NextCursor);
        Assert.Empty(none.Items);
        Assert.Null(none.NextCursor);
    }

    [Fact]
    public async Task ListFiltersByStatusModelAndKind()
    {
        var model = UniqueModel();
        var other = UniqueModel();
        var future = new DateTimeOffset(2200, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(Random.Shared.Next(1_000_000));
        var jobs = new List<JobRecord>
        {
            NewJob(model, JobStatus.Queued, future.AddSeconds(1)),
            NewJob(model, JobStatus.Succeeded, future.AddSeconds(2)),
            NewJob(model, JobStatus.Succeeded, future.AddSeconds(3), JobKind.Train),
            NewJob(model, JobStatus.Failed, future.AddSeconds(4), JobKind.Train),
            NewJob(model, JobStatus.Cancelled, future.AddSeconds(5)),
            NewJob(other, JobStatus.Succeeded, future.AddSeconds(6)),
            NewJob(other, JobStatus.Cancelled, future.AddSeconds(7), JobKind.Train),
        };
        await Jobs.InsertIfAbsentAsync(jobs, Ct);

        async Task<List<Guid>> Ids(JobQuery query) =>
            (await Jobs.ListAsync(query with { Limit = 1000 }, Ct)).Items.Select(j => j.JobId).ToList();
        List<Guid> Expected(Func<JobRecord, bool> match) => NewestFirst(jobs.Where(match)).Select(j => j.JobId).ToList();

        Assert.Equal(Expected(j => j.Model == model), await Ids(new JobQuery { Model = model }));
        Assert.Equal(Expected(j => j.Model == model && j.Status == JobStatus.Succeeded),
            await Ids(new JobQuery { Model = model, Status = JobStatus.Succeeded }));
        Assert.Equal(Expected(j => j.Model == model && j.Kind == JobKind.Train),
            await Ids(new JobQuery { Model = model, Kind = JobKind.Train }));
        Assert.Equal(Expected(j => j.Model == model && j.Status == JobStatus.Succeeded && j.Kind == JobKind.Predict),
            await Ids(new JobQuery { Model = model, Status = JobStatus.Succeeded, Kind = JobKind.Predict }));
        Assert.Equal(Expected(j => j.Status == JobStatus.Cancelled && j.Kind == JobKind.Train),
            (await Ids(new JobQuery { Status = JobStatus.Cancelled, Kind = JobKind.Train }))
                .Where(id => jobs.Any(j => j.JobId == id)).ToList());

        // Across models: the far-future jobs of this test come first, and nothing of another status slips in.
        var cancelled = await Jobs.ListAsync(new JobQuery { Status = JobStatus.Cancelled, Limit = 2 }, Ct);
        Assert.Equal(Expected(j => j.Status == JobStatus.Cancelled), cancelled.Items.Select(j => j.JobId).ToList());
        var trains = await Jobs.ListAsync(new JobQuery { Kind = JobKind.Train, Limit = 1000 }, Ct);
        Assert.All(trains.Items, j => Assert.Equal(JobKind.Train, j.Kind));
    }

    [Fact]
    public async Task CountCountsTheModelsJobsInOneStatusUpToTheLimit()
    {
        var model = UniqueModel();
        await Jobs.UpsertAsync(
        [
            .. Enumerable.Range(0, 7).Select(_ => NewJob(model, JobStatus.Queued)),
            .. Enumerable.Range(0, 4).Select(_ => NewJob(model, JobStatus.Succeeded)),
            NewJob(model, JobStatus.Queued, tenantId: "other-tenant"),
            NewJob(UniqueModel(), JobStatus.Queued),
        ], Ct);

        Assert.Equal(8, await Jobs.CountAsync(model, JobStatus.Queued, 100, Ct));
        Assert.Equal(5, await Jobs.CountAsync(model, JobStatus.Queued, 5, Ct));
        Assert.Equal(4, await Jobs.CountAsync(model, JobStatus.Succeeded, 100, Ct));
        Assert.Equal(0, await Jobs.CountAsync(model, JobStatus.Running, 100, Ct));
        Assert.Equal(0, await Jobs.CountAsync(UniqueModel(), JobStatus.Queued, 100, Ct));
    }

    [Fact]
    public async Task ListClampsTheLimitToOneThroughAThousand()
    {
        var model = UniqueModel();
        await Jobs.InsertIfAbsentAsync(Enumerable.Range(0, 1003).Select(_ => NewJob(model, JobStatus.Queued)).ToList(), Ct);

        var zero = await Jobs.ListAsync(new JobQuery { Model = model, Limit = 0 }, Ct);
        var negative = await Jobs.ListAsync(new JobQuery { Model = model, Limit = -5 }, Ct);
        var huge = await Jobs.ListAsync(new JobQuery { Model = model, Limit = 5000 }, Ct);
        var rest = await Jobs.ListAsync(new JobQuery { Model = model, Limit = 5000, Cursor = huge.NextCursor }, Ct);

        Assert.Single(zero.Items);
        Assert.Single(negative.Items);
        Assert.Equal(1000, huge.Items.Count);
        Assert.NotNull(huge.NextCursor);
        Assert.Equal(3, rest.Items.Count);
        Assert.Null(rest.NextCursor);
    }

    [Fact]
    public async Task ListRejectsACursorItDidNotIssue()
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Jobs.ListAsync(new JobQuery { Cursor = "not-a-cursor" }, Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Jobs.ListAsync(new JobQuery { Cursor = "" }, Ct));
    }

    [Fact]
    public async Task ConcurrentUpsertsFromManyTasksLoseNothing()
    {
        const int Writers = 16, BatchesPerWriter = 4, BatchSize = 64;
        var store = Jobs;
        var model = UniqueModel();
        var batches = Enumerable.Range(0, Writers * BatchesPerWriter)
            .Select(_ => Enumerable.Range(0, BatchSize).Select(_ => NewJob(model, JobStatus.Queued)).ToList())
            .ToList();
        var allIds = batches.SelectMany(b => b).Select(JobKey.Of).ToList();

        // Readers run alongside the writers from the first write to the last.
        const int Readers = 4;
        using var writersDone = new CancellationTokenSource();
        var readersStarted = 0;
        var allReadersStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var readers = Enumerable.Range(0, Readers).Select(r => Task.Run(async () =>
        {
            var reads = 0;
            do
            {
                await store.ListAsync(new JobQuery { Model = model, Limit = 100 }, Ct);
                await store.GetManyAsync(allIds.Skip(r * 100).Take(100).ToList(), includeOutputs: true, Ct);
                if (++reads == 1 && Interlocked.Increment(ref readersStarted) == Readers)
                {
                    allReadersStarted.SetResult();
                }
            }
            while (!writersDone.IsCancellationRequested);

            return reads;
        }, Ct)).ToList();

        // A reader that fails before its first read must fail the test, not leave it waiting.
        await await Task.WhenAny([allReadersStarted.Task, .. readers]).WaitAsync(Ct);
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var b = 0; b < BatchesPerWriter; b++)
            {
                var batch = batches[w * BatchesPerWriter + b];
                await store.InsertIfAbsentAsync(batch, Ct);
                await store.UpsertAsync(batch.Select(j => j with
                {
                    Status = JobStatus.Succeeded,
                    Outputs = [TestTensors.Fp32("y", [1], [w])],
                }).ToList(), Ct);
            }
        }, Ct)).ToList();

        await Task.WhenAll(writers);
        await writersDone.CancelAsync();
        var readCounts = await Task.WhenAll(readers);

        Assert.True(readCounts.Sum() > Readers, "the readers should have read while the writers wrote");
        var stored = await store.GetManyAsync(allIds, includeOutputs: true, Ct);
        Assert.Equal(allIds.Count, stored.Count);
        Assert.All(stored, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.All(stored, j => Assert.NotNull(j.Outputs));

        var listed = 0;
        string? cursor = null;
        do
        {
            var page = await store.ListAsync(new JobQuery { Model = model, Status = JobStatus.Succeeded, Limit = 1000, Cursor = cursor }, Ct);
            listed += page.Items.Count;
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(allIds.Count, listed);
    }

    [Fact]
    public async Task ExplanationIsStoredWithTheJobAndLeftOutWhereOutputsAre()
    {
        var job = NewJob(UniqueModel(), JobStatus.Succeeded) with
        {
            Outputs = [TestTensors.Fp32("y", [1], [0.75f])],
            Explanation = new Explanation
            {
                Exact = true,
                Coalitions = 2,
                BackgroundRows = 10,
                Features = ["a", "b"],
                Outputs = [new OutputAttributions { Output = "y", Index = 0, Label = "yes", BaseValue = 0.5, Value = 0.75, Attributions = [0.2, 0.05] }],
            },
        };

        await Jobs.CompleteAsync([job], Ct);

        AssertSameJob(job, await Jobs.GetAsync(job.TenantId, job.JobId, Ct));
        Assert.Null((await Jobs.GetManyAsync([JobKey.Of(job)], includeOutputs: false, Ct)).Single().Explanation);
    }
}
