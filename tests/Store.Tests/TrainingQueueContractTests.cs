using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>What every store promises for the train queue: leases, attempts, cancellation, and the job row each change moves (<see cref="ITrainingQueue"/>).</summary>
public abstract class TrainingQueueContractTests : StoreContractTests
{
    [Fact]
    public async Task ATrainJobIsQueuedOnceAndClaimedByOneWorkerWithItsRequest()
    {
        await DrainTrainQueueAsync();
        var job = NewTrainJob(UniqueModel());

        Assert.True(await Training.EnqueueTrainJobAsync(job, Ct));
        Assert.False(await Training.EnqueueTrainJobAsync(job, Ct));
        var queued = await Jobs.GetAsync(job.TenantId, job.JobId, Ct);
        Assert.Equal((JobKind.Train, JobStatus.Queued, job.Model), (queued!.Kind, queued.Status, queued.Model));

        var claim = await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct);
        Assert.NotNull(claim);
        Assert.Equal(1, claim.Attempt);
        Assert.Null(claim.PreviousAttemptError);
        Assert.Equal(job.JobId, claim.Request.JobId);
        Assert.Equal(job.Hyperparameters, claim.Request.Hyperparameters);
        Assert.Equal(["1", "a"], claim.Request.Dataset.Rows![0]);
        Assert.Null(await Training.ClaimTrainJobAsync("w2", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct));

        var running = await Jobs.GetAsync(job.TenantId, job.JobId, Ct);
        Assert.Equal((JobStatus.Running, "w1"), (running!.Status, running.WorkerId));
        Assert.NotNull(running.StartedAt);

        Assert.True(await Training.FinishTrainJobAsync(Tenants.DefaultTenantId, job.JobId, "w1", JobStatus.Succeeded, 4, "cpu", null, "registered v4", Ct));
        var done = await Jobs.GetAsync(job.TenantId, job.JobId, Ct);
        Assert.Equal((JobStatus.Succeeded, 4, "cpu"), (done!.Status, done.ModelVersion, done.Device));
        var events = await Events.ListJobEventsAsync(Tenants.DefaultTenantId, job.JobId, 0, 100, Ct);
        Assert.Equal(["queued", "started", "succeeded"], events.Select(e => e.Type));
        Assert.Equal("registered v4", events[^1].Message);
    }

    [Fact]
    public async Task AJobWhoseLeaseRanOutIsTakenOverWithTheReasonAndTheOldHolderLosesIt()
    {
        await DrainTrainQueueAsync();
        var job = NewTrainJob(UniqueModel());
        await Training.EnqueueTrainJobAsync(job, Ct);
        await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMilliseconds(1), 3, cancellationToken: Ct);
        await Task.Delay(50, Ct);

        var second = await Training.ClaimTrainJobAsync("w2", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct);

        Assert.Equal(2, second!.Attempt);
        Assert.Contains("worker w1 stopped renewing its lease", second.PreviousAttemptError, StringComparison.Ordinal);
        Assert.False((await Training.RenewTrainLeaseAsync(Tenants.DefaultTenantId, job.JobId, "w1", TimeSpan.FromMinutes(1), Ct)).Held);
        Assert.Equal(new TrainLeaseState(true, false), await Training.RenewTrainLeaseAsync(Tenants.DefaultTenantId, job.JobId, "w2", TimeSpan.FromMinutes(1), Ct));
        Assert.False(await Training.FinishTrainJobAsync(Tenants.DefaultTenantId, job.JobId, "w1", JobStatus.Succeeded, 1, "cpu", null, null, Ct));
        Assert.Equal(["queued", "started", "attempt-failed", "started"], (await Events.ListJobEventsAsync(Tenants.DefaultTenantId, job.JobId, 0, 100, Ct)).Select(e => e.Type));
    }

    [Fact]
    public async Task AJobOutOfAttemptsFailsWithTheReasonInsteadOfBeingClaimed()
    {
        await DrainTrainQueueAsync();
        var job = NewTrainJob(UniqueModel());
        await Training.EnqueueTrainJobAsync(job, Ct);
        var first = await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 2, cancellationToken: Ct);
        await Training.ReleaseTrainJobAsync(Tenants.DefaultTenantId, job.JobId, "w1", "the training process exited with code 137", Ct);
        Assert.Equal(JobStatus.Queued, (await Jobs.GetAsync(job.TenantId, job.JobId, Ct))!.Status);

        var second = await Training.ClaimTrainJobAsync("w2", TimeSpan.FromMilliseconds(1), 2, cancellationToken: Ct);
        Assert.Equal((1, 2), (first!.Attempt, second!.Attempt));
        Assert.Equal("the training process exited with code 137", second.PreviousAttemptError);
        await Task.Delay(50, Ct);

        var settled = new List<SettledTrainJob>();
        Assert.Null(await Training.ClaimTrainJobAsync("w3", TimeSpan.FromMinutes(1), 2, settled, Ct));
        var ended = Assert.Single(settled);
        Assert.Equal((job.JobId, JobStatus.Failed), (ended.Request.JobId, ended.Status));
        Assert.StartsWith("gave up after 2 attempt(s)", ended.Error, StringComparison.Ordinal);
        var failed = await Jobs.GetAsync(job.TenantId, job.JobId, Ct);
        Assert.Equal(JobStatus.Failed, failed!.Status);
        Assert.StartsWith("gave up after 2 attempt(s): worker w2 stopped renewing its lease", failed.Error, StringComparison.Ordinal);
        Assert.NotNull(failed.CompletedAt);
    }

    [Fact]
    public async Task CancelEndsAQueuedTrainJobAtOnceAndFlagsARunningOneForItsWorker()
    {
        await DrainTrainQueueAsync();
        var queued = NewTrainJob(UniqueModel());
        await Training.EnqueueTrainJobAsync(queued, Ct);
        Assert.Equal(JobStatus.Cancelled, await Training.RequestCancelAsync(Tenants.DefaultTenantId, queued.JobId, Ct));
        Assert.Equal(JobStatus.Cancelled, (await Jobs.GetAsync(queued.TenantId, queued.JobId, Ct))!.Status);
        Assert.Equal((queued.Model, queued.CallbackUrl), ((await Training.GetTrainRequestAsync(Tenants.DefaultTenantId, queued.JobId, Ct))!.Model, queued.CallbackUrl));
        Assert.Null(await Training.GetTrainRequestAsync(Tenants.DefaultTenantId, Guid.NewGuid(), Ct));
        Assert.Null(await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct));

        var running = NewTrainJob(UniqueModel());
        await Training.EnqueueTrainJobAsync(running, Ct);
        await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct);
        Assert.Equal(JobStatus.Running, await Training.RequestCancelAsync(Tenants.DefaultTenantId, running.JobId, Ct));
        Assert.Equal(new TrainLeaseState(true, true), await Training.RenewTrainLeaseAsync(Tenants.DefaultTenantId, running.JobId, "w1", TimeSpan.FromMinutes(1), Ct));
        Assert.True(await Training.FinishTrainJobAsync(Tenants.DefaultTenantId, running.JobId, "w1", JobStatus.Cancelled, null, "cpu", "cancelled while training", "cancelled while training", Ct));
        Assert.Equal(JobStatus.Cancelled, await Training.RequestCancelAsync(Tenants.DefaultTenantId, running.JobId, Ct));
        Assert.Null(await Training.RequestCancelAsync(Tenants.DefaultTenantId, Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task TwoTenantsQueueATrainJobUnderOneIdAndEachKeepsItsOwn()
    {
        // Ids are unique per tenant: globex's train job under acme's id is queued as globex's, and a cancel of one leaves
        // the other as it was.
        var acmes = NewTrainJob(UniqueModel()) with { Sender = new TenantCredentials { TenantId = "acme" } };
        var globexs = acmes with { Model = UniqueModel(), Sender = new TenantCredentials { TenantId = "globex" } };

        Assert.True(await Training.EnqueueTrainJobAsync(acmes, Ct));
        Assert.True(await Training.EnqueueTrainJobAsync(globexs, Ct));
        Assert.False(await Training.EnqueueTrainJobAsync(globexs, Ct));

        Assert.Equal(acmes.Model, (await Training.GetTrainRequestAsync("acme", acmes.JobId, Ct))!.Model);
        Assert.Equal(globexs.Model, (await Training.GetTrainRequestAsync("globex", acmes.JobId, Ct))!.Model);
        Assert.Equal(JobStatus.Cancelled, await Training.RequestCancelAsync("globex", acmes.JobId, Ct));
        Assert.Equal(JobStatus.Queued, (await Jobs.GetAsync("acme", acmes.JobId, Ct))!.Status);
        Assert.Equal(["queued"], (await Events.ListJobEventsAsync("acme", acmes.JobId, 0, 100, Ct)).Select(e => e.Type));
        Assert.Equal(["queued", "cancelled"], (await Events.ListJobEventsAsync("globex", acmes.JobId, 0, 100, Ct)).Select(e => e.Type));
        Assert.Equal(JobStatus.Cancelled, await Training.RequestCancelAsync("acme", acmes.JobId, Ct));
    }

    [Fact]
    public async Task ATrainJobBelongsToTheTenantThatSentIt()
    {
        var request = NewTrainJob(UniqueModel()) with { Sender = new TenantCredentials { TenantId = "acme" } };

        await Training.EnqueueTrainJobAsync(request, Ct);

        Assert.Equal("acme", (await Jobs.GetAsync(request.TenantId, request.JobId, Ct))!.TenantId);
    }
}
