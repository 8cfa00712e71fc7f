using System.Security.Cryptography;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

// What every store promises for train jobs, their events, datasets and idempotent model registration.
public abstract partial class StoreContractTests
{
    private ITrainingQueue Training => (ITrainingQueue)Jobs;
    private IJobEventStore Events => (IJobEventStore)Jobs;
    private IDatasetStore Datasets => (IDatasetStore)Jobs;

    private static SubmitTrainJob NewTrainJob(string model) => new()
    {
        JobId = Guid.CreateVersion7(),
        Model = model,
        Dataset = new TrainingDataset { Columns = ["x", "y"], Rows = [["1", "a"], ["2", "b"]] },
        LabelColumn = "y",
        Hyperparameters = new TrainingHyperparameters { Epochs = 7, Optimizer = TrainingOptimizer.Sgd },
        SubmittedAt = DateTimeOffset.UtcNow,
    };

    /// <summary>Claims take the oldest job in the whole store, so each claim test starts from an empty train queue.</summary>
    private async Task DrainTrainQueueAsync()
    {
        while (await Training.ClaimTrainJobAsync("drain", TimeSpan.FromMinutes(5), 100, cancellationToken: Ct) is { } claim)
        {
            await Training.FinishTrainJobAsync(claim.Request.JobId, "drain", JobStatus.Failed, null, null, "drained", "drained", Ct);
        }
    }

    [Fact]
    public async Task ATrainJobIsQueuedOnceAndClaimedByOneWorkerWithItsRequest()
    {
        await DrainTrainQueueAsync();
        var job = NewTrainJob(UniqueModel());

        Assert.True(await Training.EnqueueTrainJobAsync(job, Ct));
        Assert.False(await Training.EnqueueTrainJobAsync(job, Ct));
        var queued = await Jobs.GetAsync(job.JobId, Ct);
        Assert.Equal((JobKind.Train, JobStatus.Queued, job.Model), (queued!.Kind, queued.Status, queued.Model));

        var claim = await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct);
        Assert.NotNull(claim);
        Assert.Equal(1, claim.Attempt);
        Assert.Null(claim.PreviousAttemptError);
        Assert.Equal(job.JobId, claim.Request.JobId);
        Assert.Equal(job.Hyperparameters, claim.Request.Hyperparameters);
        Assert.Equal(["1", "a"], claim.Request.Dataset.Rows![0]);
        Assert.Null(await Training.ClaimTrainJobAsync("w2", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct));

        var running = await Jobs.GetAsync(job.JobId, Ct);
        Assert.Equal((JobStatus.Running, "w1"), (running!.Status, running.WorkerId));
        Assert.NotNull(running.StartedAt);

        Assert.True(await Training.FinishTrainJobAsync(job.JobId, "w1", JobStatus.Succeeded, 4, "cpu", null, "registered v4", Ct));
        var done = await Jobs.GetAsync(job.JobId, Ct);
        Assert.Equal((JobStatus.Succeeded, 4, "cpu"), (done!.Status, done.ModelVersion, done.Device));
        var events = await Events.ListJobEventsAsync(job.JobId, 0, 100, Ct);
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
        Assert.False((await Training.RenewTrainLeaseAsync(job.JobId, "w1", TimeSpan.FromMinutes(1), Ct)).Held);
        Assert.Equal(new TrainLeaseState(true, false), await Training.RenewTrainLeaseAsync(job.JobId, "w2", TimeSpan.FromMinutes(1), Ct));
        Assert.False(await Training.FinishTrainJobAsync(job.JobId, "w1", JobStatus.Succeeded, 1, "cpu", null, null, Ct));
        Assert.Equal(["queued", "started", "attempt-failed", "started"], (await Events.ListJobEventsAsync(job.JobId, 0, 100, Ct)).Select(e => e.Type));
    }

    [Fact]
    public async Task AJobOutOfAttemptsFailsWithTheReasonInsteadOfBeingClaimed()
    {
        await DrainTrainQueueAsync();
        var job = NewTrainJob(UniqueModel());
        await Training.EnqueueTrainJobAsync(job, Ct);
        var first = await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 2, cancellationToken: Ct);
        await Training.ReleaseTrainJobAsync(job.JobId, "w1", "the training process exited with code 137", Ct);
        Assert.Equal(JobStatus.Queued, (await Jobs.GetAsync(job.JobId, Ct))!.Status);

        var second = await Training.ClaimTrainJobAsync("w2", TimeSpan.FromMilliseconds(1), 2, cancellationToken: Ct);
        Assert.Equal((1, 2), (first!.Attempt, second!.Attempt));
        Assert.Equal("the training process exited with code 137", second.PreviousAttemptError);
        await Task.Delay(50, Ct);

        var settled = new List<SettledTrainJob>();
        Assert.Null(await Training.ClaimTrainJobAsync("w3", TimeSpan.FromMinutes(1), 2, settled, Ct));
        var ended = Assert.Single(settled);
        Assert.Equal((job.JobId, JobStatus.Failed), (ended.Request.JobId, ended.Status));
        Assert.StartsWith("gave up after 2 attempt(s)", ended.Error, StringComparison.Ordinal);
        var failed = await Jobs.GetAsync(job.JobId, Ct);
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
        Assert.Equal(JobStatus.Cancelled, await Training.RequestCancelAsync(queued.JobId, Ct));
        Assert.Equal(JobStatus.Cancelled, (await Jobs.GetAsync(queued.JobId, Ct))!.Status);
        Assert.Equal((queued.Model, queued.CallbackUrl), ((await Training.GetTrainRequestAsync(queued.JobId, Ct))!.Model, queued.CallbackUrl));
        Assert.Null(await Training.GetTrainRequestAsync(Guid.NewGuid(), Ct));
        Assert.Null(await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct));

        var running = NewTrainJob(UniqueModel());
        await Training.EnqueueTrainJobAsync(running, Ct);
        await Training.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 3, cancellationToken: Ct);
        Assert.Equal(JobStatus.Running, await Training.RequestCancelAsync(running.JobId, Ct));
        Assert.Equal(new TrainLeaseState(true, true), await Training.RenewTrainLeaseAsync(running.JobId, "w1", TimeSpan.FromMinutes(1), Ct));
        Assert.True(await Training.FinishTrainJobAsync(running.JobId, "w1", JobStatus.Cancelled, null, "cpu", "cancelled while training", "cancelled while training", Ct));
        Assert.Equal(JobStatus.Cancelled, await Training.RequestCancelAsync(running.JobId, Ct));
        Assert.Null(await Training.RequestCancelAsync(Guid.NewGuid(), Ct));
    }

    [Fact]
    public async Task JobEventsAreNumberedInOrderAndReadAfterASequenceNumber()
    {
        var jobId = Guid.NewGuid();
        await Events.AppendJobEventsAsync(jobId, [.. Enumerable.Range(1, 3).Select(i => Epoch(i))], Ct);
        await Events.AppendJobEventsAsync(jobId, [Epoch(4), new JobEventView { Sequence = 0, Type = "succeeded", At = DateTimeOffset.UtcNow, Message = "ä \"ok\"" }], Ct);

        var all = await Events.ListJobEventsAsync(jobId, 0, 100, Ct);
        Assert.Equal([1L, 2, 3, 4, 5], all.Select(e => e.Sequence));
        Assert.Equal([1, 2, 3, 4], all.Take(4).Select(e => e.Epoch!.Value));
        Assert.Equal(0.25, all[1].ValidationAccuracy);
        Assert.Equal("ä \"ok\"", all[4].Message);
        Assert.Equal([4L, 5], (await Events.ListJobEventsAsync(jobId, 3, 100, Ct)).Select(e => e.Sequence));
        Assert.Empty(await Events.ListJobEventsAsync(Guid.NewGuid(), 0, 100, Ct));

        static JobEventView Epoch(int i) => new()
        {
            Sequence = 0, Type = "epoch", At = DateTimeOffset.UtcNow, Epoch = i, Epochs = 4, TrainLoss = 1.0 / i,
            ValidationLoss = 2.0 / i, ValidationAccuracy = i * 0.125, LearningRate = 0.01, ElapsedSeconds = i,
        };
    }

    [Fact]
    public async Task RegisteringTheModelOfOneTrainingJobTwiceKeepsOneVersionWithItsTrainingInfo()
    {
        var name = UniqueModel();
        var jobId = Guid.NewGuid();
        var info = new ModelTrainingInfo
        {
            TrainingJobId = jobId,
            DatasetFingerprint = "sha256:" + new string('a', 64),
            Task = TrainingTask.MulticlassClassification,
            LabelColumn = "species",
            FeatureColumns = ["a", "b"],
            ClassLabels = ["x", "y", "z"],
            Architecture = new TrainingArchitecture { HiddenSizes = [8], Activation = HiddenActivation.Tanh },
            Hyperparameters = new TrainingHyperparameters { Epochs = 3 },
            Metrics = new Dictionary<string, double> { ["val_accuracy"] = 0.96, ["onnx_max_abs_diff"] = 1.2e-7 },
            Device = "cpu",
        };
        var model = NewModel(name) with { Training = info };

        var first = await Models.AddVersionAsync(model, new MemoryStream([1, 2, 3]), Ct);
        var again = await Models.AddVersionAsync(model, new MemoryStream([4, 5, 6, 7]), Ct);

        Assert.Equal(1, first.Version);
        Assert.Equal(1, again.Version);
        Assert.Equal(3, again.SizeBytes);
        var stored = Assert.Single(await Models.ListAsync(name, Ct));
        Assert.Equal(jobId, stored.Training!.TrainingJobId);
        Assert.Equal(info.ClassLabels, stored.Training.ClassLabels);
        Assert.Equal(info.Architecture.HiddenSizes, stored.Training.Architecture.HiddenSizes);
        Assert.Equal(0.96, stored.Training.Metrics["val_accuracy"]);
        Assert.Equal(1, (await Models.GetVersionByTrainingJobAsync(jobId, Ct))!.Version);
        Assert.Null(await Models.GetVersionByTrainingJobAsync(Guid.NewGuid(), Ct));

        // Versions without training info are not affected by the idempotency key.
        Assert.Equal(2, (await Models.AddVersionAsync(NewModel(name), new MemoryStream([9]), Ct)).Version);
        Assert.Null((await Models.GetVersionAsync(name, 2, Ct))!.Training);
    }

    [Fact]
    public async Task ADatasetRoundTripsByIdWithItsSizeAndHash()
    {
        var content = new byte[(int)(2.5 * 1024 * 1024)];
        new Random(3).NextBytes(content);

        var dataset = await Datasets.AddDatasetAsync("acme", "data.csv", new MemoryStream(content), Ct);

        Assert.Equal(content.Length, dataset.SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), dataset.Sha256);
        Assert.Equal(dataset, await Datasets.GetDatasetAsync("acme", dataset.Id, Ct));
        using var copy = new MemoryStream();
        await Datasets.CopyDatasetToAsync("acme", dataset.Id, copy, Ct);
        Assert.Equal(content, copy.ToArray());
        Assert.Null(await Datasets.GetDatasetAsync("acme", "unknown", Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Datasets.CopyDatasetToAsync("acme", "unknown", Stream.Null, Ct));
    }

    [Fact]
    public async Task ADatasetIsUnknownToEveryOtherTenant()
    {
        var dataset = await Datasets.AddDatasetAsync("acme", "data.csv", new MemoryStream([1, 2, 3]), Ct);

        Assert.Null(await Datasets.GetDatasetAsync("globex", dataset.Id, Ct));
        Assert.Null(await Datasets.GetDatasetAsync(Tenants.DefaultTenantId, dataset.Id, Ct));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => Datasets.CopyDatasetToAsync("globex", dataset.Id, Stream.Null, Ct));
    }

    [Fact]
    public async Task ATrainJobBelongsToTheTenantThatSentIt()
    {
        var request = NewTrainJob(UniqueModel()) with { Sender = new TenantCredentials { TenantId = "acme" } };

        await Training.EnqueueTrainJobAsync(request, Ct);

        Assert.Equal("acme", (await Jobs.GetAsync(request.JobId, Ct))!.TenantId);
    }
}
