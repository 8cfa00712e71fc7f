namespace AIaaS.Queue.Contracts;

/// <summary>Body of <c>POST /v1/jobs/lookup</c>: the state of many jobs in one call (used by the SDK to wait efficiently).</summary>
public sealed record JobLookupRequest
{
    public required IReadOnlyList<Guid> Ids { get; init; }
}
