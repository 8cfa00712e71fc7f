namespace AIaaS.Queue.Contracts;

/// <summary>The answer of <c>POST /v1/jobs/batch</c>: one item per job of the body, in the body's order.</summary>
public sealed record JobBatchView
{
    public required IReadOnlyList<JobBatchItemView> Items { get; init; }
}
