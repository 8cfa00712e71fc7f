using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Batching;
using AIaaS.Queue.Workers.Inference;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>How a batch is formed from the requests waiting for one model: priority, aging, shape groups, length grouping
/// and the row limit.</summary>
public sealed class WaitingLinesTests
{
    [Fact]
    public void WithoutLengthGroupingABatchTakesCompatibleRequestsInArrivalOrder()
    {
        var lines = new WaitingLines();
        int[] lengths = [5, 50, 7, 48, 6];
        foreach (var length in lengths)
        {
            lines.Add(Waiting(length));
        }

        var batch = lines.Take(lines.Head(long.MaxValue, 0), maxRows: 3, groupByLength: false);

        Assert.Equal([5, 50, 7], batch.Select(p => p.Request.Length));
        Assert.Equal(2, lines.Count);
    }

    [Fact]
    public void WithLengthGroupingTheOldestLeadsAndTheNearestLengthsJoinIt()
    {
        var lines = new WaitingLines();
        int[] lengths = [5, 50, 7, 48, 6, 49];
        foreach (var length in lengths)
        {
            lines.Add(Waiting(length));
        }

        var first = lines.Take(lines.Head(long.MaxValue, 0), maxRows: 3, groupByLength: true);
        var second = lines.Take(lines.Head(long.MaxValue, 0), maxRows: 3, groupByLength: true);

        Assert.Equal([5, 6, 7], first.Select(p => p.Request.Length));
        Assert.Equal([50, 49, 48], second.Select(p => p.Request.Length));
        Assert.Equal(0, lines.Count);
    }

    [Fact]
    public void RequestsOfDifferentShapesNeverShareABatch()
    {
        var lines = new WaitingLines();
        lines.Add(Waiting(4, key: "48x192"));
        lines.Add(Waiting(4, key: "32x100"));
        lines.Add(Waiting(4, key: "48x192"));

        var (rows, _) = lines.Compatible(lines.Head(long.MaxValue, 0));
        var batch = lines.Take(lines.Head(long.MaxValue, 0), maxRows: 8, groupByLength: true);

        Assert.Equal(2, rows);
        Assert.All(batch, p => Assert.Equal("48x192", p.Request.GroupKey));
        Assert.Equal("32x100", Assert.Single(lines.All).Request.GroupKey);
    }

    [Fact]
    public void RowsCountTowardsTheLimitAndARequestThatDoesNotFitWaitsForTheNextBatch()
    {
        var lines = new WaitingLines();
        lines.Add(Waiting(10, rows: 3));
        lines.Add(Waiting(10, rows: 4));
        lines.Add(Waiting(10, rows: 1));

        var batch = lines.Take(lines.Head(long.MaxValue, 0), maxRows: 4, groupByLength: false);

        Assert.Equal([3, 1], batch.Select(p => p.Request.Rows));
        Assert.Equal(4, Assert.Single(lines.All).Request.Rows);
    }

    [Fact]
    public void HighPriorityLeadsAndFillsFirstUntilANormalRequestHasWaitedTooLong()
    {
        var lines = new WaitingLines();
        var normal = Waiting(10);
        lines.Add(normal);
        var high = Waiting(10, priority: JobPriority.High);
        lines.Add(high);

        Assert.Same(high, lines.Head(agingTicks: long.MaxValue, now: normal.EnqueuedAt));
        Assert.Equal([high, normal], lines.Take(lines.Head(long.MaxValue, normal.EnqueuedAt), maxRows: 2, groupByLength: false));

        var aged = Waiting(10);
        lines.Add(aged);
        lines.Add(Waiting(10, priority: JobPriority.High));
        Assert.Same(aged, lines.Head(agingTicks: 0, now: aged.EnqueuedAt + 1));
    }

    private static PendingPrediction Waiting(long length, string key = "", int rows = 1, JobPriority priority = JobPriority.Normal) => new(
        new SubmitPredictJob { JobId = Guid.NewGuid(), Model = "m", SubmittedAt = DateTimeOffset.UtcNow, Priority = priority },
        "default",
        new PreparedRequest([], rows, key, length, null));
}
