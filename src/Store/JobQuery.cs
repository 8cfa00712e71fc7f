using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>A filtered, cursor-paged listing of jobs, newest <see cref="JobRecord.SubmittedAt"/> first (ties by id).</summary>
public sealed record JobQuery
{
    /// <summary>Only this tenant's jobs; null lists every tenant's.</summary>
    public string? TenantId { get; init; }

    public JobStatus? Status { get; init; }
    public string? Model { get; init; }
    public JobKind? Kind { get; init; }

    /// <summary>Page size, 1..1000.</summary>
    public int Limit { get; init; } = 50;

    /// <summary>Opaque cursor from a previous <see cref="JobPage.NextCursor"/>; null for the first page.</summary>
    public string? Cursor { get; init; }
}

public sealed record JobPage(IReadOnlyList<JobRecord> Items, string? NextCursor);
