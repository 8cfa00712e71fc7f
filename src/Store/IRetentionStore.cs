using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>
/// What the retention sweeper needs from a store: bounded deletes of what has outlived its tenant's retention, a lease so
/// that one instance sweeps at a time, a way to give freed space back, and the store's size. Each sweep method removes at
/// most <c>limit</c> items in one short write and reports what it removed; a caller repeats it until fewer than the limit
/// come back. Every method is idempotent: what is gone stays gone and is not counted twice.
/// </summary>
public interface IRetentionStore
{
    /// <summary>Takes or renews the named lease for <paramref name="owner"/> until now + <paramref name="duration"/>; false
    /// while another owner holds it and its time has not run out.</summary>
    Task<bool> TryAcquireLeaseAsync(string name, string owner, TimeSpan duration, CancellationToken cancellationToken = default);

    /// <summary>Ends the lease if <paramref name="owner"/> holds it, so the next sweep need not wait for it to run out.</summary>
    Task ReleaseLeaseAsync(string name, string owner, CancellationToken cancellationToken = default);

    /// <summary>Drops the outputs of the tenant's final jobs of <paramref name="kind"/> that completed before
    /// <paramref name="completedBefore"/> and still have a payload, and marks each with <paramref name="expiredAt"/> (the
    /// tombstone that lets a reader answer 410 instead of 404). The job record itself stays.</summary>
    Task<SweepBatch> ExpireJobPayloadsAsync(string tenantId, JobKind kind, DateTimeOffset completedBefore, DateTimeOffset expiredAt, int limit,
        CancellationToken cancellationToken = default);

    /// <summary>Deletes the tenant's final jobs of <paramref name="kind"/> that completed before <paramref name="completedBefore"/>,
    /// with what hangs off them (a train job's request and events, webhook deliveries).</summary>
    Task<SweepBatch> DeleteJobRecordsAsync(string tenantId, JobKind kind, DateTimeOffset completedBefore, int limit,
        CancellationToken cancellationToken = default);

    /// <summary>Deletes the content of the tenant's uploaded files created before <paramref name="createdBefore"/>; each keeps
    /// its record, marked with <paramref name="expiredAt"/>.</summary>
    Task<SweepBatch> ExpireDatasetsAsync(string tenantId, DateTimeOffset createdBefore, DateTimeOffset expiredAt, int limit,
        CancellationToken cancellationToken = default);

    /// <summary>Deletes the stored chunks (inputs and results) of the tenant's final bulk jobs that completed before
    /// <paramref name="completedBefore"/>, at most <paramref name="limit"/> chunks, and marks a job whose chunks are all gone with
    /// <paramref name="expiredAt"/>.</summary>
    Task<SweepBatch> ExpireBulkOutputsAsync(string tenantId, DateTimeOffset completedBefore, DateTimeOffset expiredAt, int limit,
        CancellationToken cancellationToken = default);

    /// <summary>Gives up to <paramref name="maxBytes"/> of freed space back to the file system where the store can do that in
    /// small steps (the embedded store's incremental vacuum); returns the bytes given back, 0 where the server manages it.</summary>
    Task<long> ReclaimSpaceAsync(long maxBytes, CancellationToken cancellationToken = default);

    /// <summary>The bytes the tenant holds in uploaded files that have not expired and in its bulk jobs' stored chunks (inputs
    /// and results): what a storage quota counts.</summary>
    Task<long> GetStoredBytesAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>How much space the store takes, and how much of it is free for reuse.</summary>
    Task<StoreSize> GetSizeAsync(CancellationToken cancellationToken = default);

    /// <summary>Stores the report of the last sweep, so that every API instance can show it.</summary>
    Task SaveSweepReportAsync(SweepReport report, CancellationToken cancellationToken = default);

    /// <summary>The last sweep's report, or null before the first.</summary>
    Task<SweepReport?> GetSweepReportAsync(CancellationToken cancellationToken = default);
}

/// <summary>What one sweep call removed: items and the bytes of payload they held (an estimate where the store does not
/// know it exactly).</summary>
public readonly record struct SweepBatch(int Count, long Bytes)
{
    public static SweepBatch None => default;

    public static SweepBatch operator +(SweepBatch left, SweepBatch right) => new(left.Count + right.Count, left.Bytes + right.Bytes);
}

/// <summary>The store's size in bytes: <see cref="TotalBytes"/> on disk (or allocated on the server), of which
/// <see cref="FreeBytes"/> is free for reuse; <see cref="Reclaims"/> tells whether freed space can be given back while running.</summary>
public sealed record StoreSize
{
    public required string Kind { get; init; }
    public required long TotalBytes { get; init; }
    public required long FreeBytes { get; init; }

    /// <summary>Bytes of live data (what is not free).</summary>
    public long DataBytes => TotalBytes - FreeBytes;

    public required bool Reclaims { get; init; }

    /// <summary>Why freed space is or is not given back, for operators.</summary>
    public string? Note { get; init; }
}

/// <summary>One sweep: when it ran, who ran it, and what it removed per kind of object.</summary>
public sealed record SweepReport
{
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset FinishedAt { get; init; }
    public required string Owner { get; init; }
    public required SweepCounts JobPayloads { get; init; }
    public required SweepCounts JobRecords { get; init; }
    public required SweepCounts Files { get; init; }
    public required SweepCounts BulkOutputs { get; init; }
    public long ReclaimedBytes { get; init; }

    /// <summary>Batches written; each was one short transaction.</summary>
    public int Batches { get; init; }
    public string? Error { get; init; }
}

public sealed record SweepCounts(long Count, long Bytes)
{
    public static SweepCounts Zero { get; } = new(0, 0);

    public SweepCounts Add(SweepBatch batch) => new(Count + batch.Count, Bytes + batch.Bytes);
}

/// <summary>A stored object whose content the retention sweeper removed; readers answer 410 Gone with <see cref="ExpiredAt"/>.</summary>
public sealed class StoredObjectExpiredException(string message, DateTimeOffset expiredAt) : Exception(message)
{
    public DateTimeOffset ExpiredAt { get; } = expiredAt;
}
