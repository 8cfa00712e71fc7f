namespace AIaaS.Queue.Contracts;

/// <summary>One page of jobs, newest first; pass <see cref="NextCursor"/> back as <c>cursor</c> for the next page.</summary>
public sealed record JobPageView
{
    public required IReadOnlyList<JobView> Items { get; init; }
    public string? NextCursor { get; init; }
}
