using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store.Tests;

/// <summary>The train queue's decisions, which both backends write as they are given.</summary>
public sealed class TrainQueueRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 23, 0, 0, TimeSpan.Zero);

    private static SubmitTrainJob Request(string? tenantId = null) => new()
    {
        JobId = Guid.CreateVersion7(),
        Model = "iris",
        Dataset = new TrainingDataset { Columns = ["x", "y"], Rows = [["1", "a"]] },
        LabelColumn = "y",
        Hyperparameters = new TrainingHyperparameters { Epochs = 1 },
        SubmittedAt = Now.AddMinutes(-5),
        Sender = tenantId is null ? null : new TenantCredentials { TenantId = tenantId },
    };

    private static TrainQueueEntry Entry(TrainQueueState state, int attempts, bool cancelRequested = false, string? owner = null, string? lastError = null) =>
        new(Guid.CreateVersion7(), Request(), state, attempts, owner, cancelRequested, lastError);

    [Fact]
    public void AQueuedJobWithAttemptsLeftRunsItsNextAttemptOnTheClaimingWorker()
    {
        var decision = TrainQueueRules.Claim(Entry(TrainQueueState.Queued, attempts: 1, lastError: "child crashed"), "w2", maxAttempts: 3, Now);

        Assert.True(decision.Claimed);
        Assert.Equal(2, decision.Attempts);
        Assert.Equal("w2", decision.WorkerId);
        Assert.Equal("child crashed", decision.LastError);
        Assert.Null(decision.Error);
        var started = Assert.Single(decision.Events);
        Assert.Equal((JobEventTypes.Started, 2, "worker w2"), (started.Type, started.Attempt, started.Message));
    }

    [Fact]
    public void ALapsedLeaseCountsAsAFailedAttemptBeforeTheNextOneStarts()
    {
        var decision = TrainQueueRules.Claim(Entry(TrainQueueState.Running, attempts: 1, owner: "w1"), "w2", maxAttempts: 3, Now);

        Assert.True(decision.Claimed);
        Assert.Equal(2, decision.Attempts);
        Assert.Equal("worker w1 stopped renewing its lease on attempt 1 (it crashed or was stopped)", decision.LastError);
        Assert.Equal([JobEventTypes.AttemptFailed, JobEventTypes.Started], decision.Events.Select(e => e.Type));
        Assert.Equal(1, decision.Events[0].Attempt);
        Assert.Equal(decision.LastError, decision.Events[0].Message);
    }

    [Fact]
    public void AJobOutOfAttemptsFailsWithTheLastAttemptsReasonOnItsLastWorker()
    {
        var decision = TrainQueueRules.Claim(Entry(TrainQueueState.Running, attempts: 3, owner: "w1"), "w2", maxAttempts: 3, Now);

        Assert.False(decision.Claimed);
        Assert.Equal(JobStatus.Failed, decision.Status);
        Assert.Equal(3, decision.Attempts);
        Assert.Equal("w1", decision.WorkerId);
        Assert.Equal("gave up after 3 attempt(s): worker w1 stopped renewing its lease on attempt 3 (it crashed or was stopped)", decision.Error);
        Assert.Equal([JobEventTypes.AttemptFailed, "failed"], decision.Events.Select(e => e.Type));
        Assert.Equal(decision.Error, decision.Events[^1].Message);
    }

    [Fact]
    public void AQueuedJobOutOfAttemptsFailsWithTheReasonItWasGivenBack()
    {
        var decision = TrainQueueRules.Claim(Entry(TrainQueueState.Queued, attempts: 2, lastError: "out of memory"), "w2", maxAttempts: 2, Now);

        Assert.Equal(JobStatus.Failed, decision.Status);
        Assert.Equal("gave up after 2 attempt(s): out of memory", decision.Error);
        Assert.Equal("failed", Assert.Single(decision.Events).Type);
    }

    [Fact]
    public void ACancelAskedForWhileTheWorkerWasGoneEndsTheJobCancelledEvenWithAttemptsLeft()
    {
        var decision = TrainQueueRules.Claim(Entry(TrainQueueState.Running, attempts: 1, cancelRequested: true, owner: "w1"), "w2", maxAttempts: 5, Now);

        Assert.False(decision.Claimed);
        Assert.Equal(JobStatus.Cancelled, decision.Status);
        Assert.Equal("cancelled", decision.Error);
        Assert.Equal(1, decision.Attempts);
        Assert.Equal([JobEventTypes.AttemptFailed, "cancelled"], decision.Events.Select(e => e.Type));
        Assert.All(decision.Events, e => Assert.Equal(Now, e.At));
    }

    [Fact]
    public void CancellingAQueuedJobEndsItAtOnceAndARunningOneOnlyTellsItsWorker()
    {
        var queued = TrainQueueRules.Cancel(TrainQueueState.Queued, Now);
        var running = TrainQueueRules.Cancel(TrainQueueState.Running, Now);

        Assert.NotNull(queued);
        Assert.Equal((JobStatus.Cancelled, true, "cancelled before it started"), (queued.Status, queued.EndsNow, queued.Error));
        Assert.Equal((JobEventTypes.Cancelled, "cancelled before it started"), (queued.Event.Type, queued.Event.Message));
        Assert.NotNull(running);
        Assert.Equal((JobStatus.Running, false, (string?)null), (running.Status, running.EndsNow, running.Error));
        Assert.Equal(JobEventTypes.CancelRequested, running.Event.Type);
        Assert.Null(TrainQueueRules.Cancel(TrainQueueState.Done, Now));
    }

    [Fact]
    public void AQueuedTrainJobBelongsToItsSendersTenantOrTheDefaultOne()
    {
        var request = Request("acme");

        var job = TrainQueueRules.QueuedJob(request);

        Assert.Equal((request.JobId, "acme", JobKind.Train, "iris", JobStatus.Queued, request.SubmittedAt),
            (job.JobId, job.TenantId, job.Kind, job.Model, job.Status, job.SubmittedAt));
        Assert.Equal(Tenants.DefaultTenantId, TrainQueueRules.QueuedJob(Request()).TenantId);
        Assert.Equal(JobEventTypes.Queued, TrainQueueRules.QueuedEvent(Now).Type);
    }

    [Theory]
    [InlineData(JobStatus.Succeeded, "succeeded")]
    [InlineData(JobStatus.Cancelled, "cancelled")]
    public void AClosingEventIsNamedAfterTheFinalStatus(JobStatus status, string type)
    {
        var closing = TrainQueueRules.Closing(status, "done", Now);

        Assert.Equal((type, "done", Now), (closing.Type, closing.Message, closing.At));
    }
}

/// <summary>The bulk job moves both backends apply in one conditional update.</summary>
public sealed class BulkStoreRulesTests
{
    [Fact]
    public void StartingStampsTheStartOnceAndTakesTheModelVersion()
    {
        var move = BulkStoreRules.Transition(BulkJobStatus.Running, 42, 5, null, BulkInputFormat.Csv);

        Assert.Equal(new BulkTransition(BulkJobStatus.Running, 42, StartsIfNotStarted: true, ModelVersion: 5, Ends: false, SetsError: false, null,
            BulkInputFormat.Csv), move);
    }

    [Fact]
    public void AModelVersionGivenWithAnyOtherMoveIsNotRecorded()
    {
        Assert.Null(BulkStoreRules.Transition(BulkJobStatus.Finalizing, 42, 5, null, null).ModelVersion);
    }

    [Theory]
    [InlineData(BulkJobStatus.Succeeded)]
    [InlineData(BulkJobStatus.Failed)]
    [InlineData(BulkJobStatus.Cancelled)]
    [InlineData(BulkJobStatus.Expired)]
    public void EveryFinalMoveStampsTheEndAndSetsTheErrorEvenToNone(BulkJobStatus final)
    {
        var move = BulkStoreRules.Transition(final, 43, null, null, null);

        Assert.True(move.Ends);
        Assert.True(move.SetsError);
        Assert.Null(move.Error);
        Assert.False(move.StartsIfNotStarted);
    }

    [Fact]
    public void AnErrorGivenWithAMoveThatDoesNotEndTheJobIsRecordedAndNoErrorLeavesTheStoredOne()
    {
        var withError = BulkStoreRules.Transition(BulkJobStatus.Cancelling, 44, null, "cancel asked", null);
        var without = BulkStoreRules.Transition(BulkJobStatus.Cancelling, 44, null, null, null);

        Assert.Equal((false, true, "cancel asked"), (withError.Ends, withError.SetsError, withError.Error));
        Assert.False(without.SetsError);
    }
}

/// <summary>The final statuses both backends filter on, listed from the one rule that decides them.</summary>
public sealed class FinalStatusRulesTests
{
    [Fact]
    public void AJobsFinalStatusesAreTheOnesItNeverLeaves()
    {
        Assert.Equal([JobStatus.Succeeded, JobStatus.Failed, JobStatus.Cancelled, JobStatus.Expired], JobStoreRules.FinalStatuses);
        Assert.Equal("'Succeeded', 'Failed', 'Cancelled', 'Expired'", SqliteCommands.SqlList(JobStoreRules.FinalStatuses));
        Assert.False(new JobRecord { JobId = Guid.NewGuid(), TenantId = "t", Kind = JobKind.Predict, Model = "m", Status = JobStatus.Running, SubmittedAt = DateTimeOffset.UnixEpoch }.IsFinal);
    }

    [Fact]
    public void ABulkJobsFinalStatusesLeaveOutEveryMoveStillUnderWay()
    {
        Assert.Equal([BulkJobStatus.Succeeded, BulkJobStatus.Failed, BulkJobStatus.Cancelled, BulkJobStatus.Expired], BulkStoreRules.FinalStatuses);
        Assert.DoesNotContain(BulkJobStatus.Finalizing, BulkStoreRules.FinalStatuses);
        Assert.DoesNotContain(BulkJobStatus.Cancelling, BulkStoreRules.FinalStatuses);
    }
}
