using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store;

/// <summary>
/// Bulk scoring jobs: the job row with live counts, the chunks its file was split into (the claim checks that chunk
/// messages refer to) and each chunk's results. Counting is idempotent per chunk, so a redelivered chunk message or a
/// re-split after a worker crash never counts a record twice. Every method is safe to call concurrently, from any process.
/// Bulk job ids are unique per tenant: every method names the tenant with the id, and touches only that tenant's job.
/// </summary>
public interface IBulkStore
{
    /// <summary>Stores a new bulk job (status <see cref="BulkJobStatus.Validating"/>); false, leaving the stored one
    /// untouched, when its tenant already holds the id.</summary>
    Task<bool> CreateBulkJobAsync(BulkJobRecord job, CancellationToken cancellationToken = default);

    Task<BulkJobRecord?> GetBulkJobAsync(string tenantId, Guid bulkJobId, CancellationToken cancellationToken = default);

    /// <summary>A tenant's most recently submitted bulk jobs, newest first.</summary>
    Task<IReadOnlyList<BulkJobRecord>> ListBulkJobsAsync(string tenantId, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves a job to <paramref name="to"/> if its status is one of <paramref name="from"/>, and returns the job as it is
    /// afterwards (null for an unknown id). Entering Running sets StartedAt (once) and the model version when given;
    /// entering a final state sets CompletedAt and the error. A given <paramref name="format"/> (the one detected in the
    /// file) is recorded with any move. Callers see whether they moved it by comparing the status.
    /// </summary>
    Task<BulkJobRecord?> TransitionBulkJobAsync(string tenantId, Guid bulkJobId, IReadOnlyCollection<BulkJobStatus> from, BulkJobStatus to,
        int? modelVersion = null, string? error = null, BulkInputFormat? format = null, CancellationToken cancellationToken = default);

    /// <summary>Stores one chunk's input records (an opaque payload) and adds its record count to the job's total, both
    /// only the first time this chunk index is saved. Returns whether it was new.</summary>
    Task<bool> SaveBulkChunkInputAsync(string tenantId, Guid bulkJobId, int chunkIndex, int recordCount, ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken = default);

    /// <summary>A chunk's input payload, or null when it is unknown or already removed.</summary>
    Task<byte[]?> GetBulkChunkInputAsync(string tenantId, Guid bulkJobId, int chunkIndex, CancellationToken cancellationToken = default);

    /// <summary>Records that the file is fully split into <paramref name="chunkCount"/> chunks; returns the progress afterwards.</summary>
    Task<BulkProgress> CompleteBulkSplitAsync(string tenantId, Guid bulkJobId, int chunkCount, CancellationToken cancellationToken = default);

    /// <summary>Stores a chunk's results and adds its counts to the job's, only the first time for this chunk index
    /// (<see cref="BulkProgress.Recorded"/> tells). Returns the progress afterwards either way.</summary>
    Task<BulkProgress> SaveBulkChunkResultAsync(string tenantId, Guid bulkJobId, int chunkIndex, BulkChunkResult result,
        CancellationToken cancellationToken = default);

    /// <summary>Writes the job's output (or error) lines so far to <paramref name="destination"/>, chunk by chunk in
    /// input order, without holding them all in memory. Throws <see cref="KeyNotFoundException"/> for an unknown job.</summary>
    Task CopyBulkResultsToAsync(string tenantId, Guid bulkJobId, BulkResultKind kind, Stream destination, CancellationToken cancellationToken = default);

    /// <summary>Removes the stored chunk inputs of a finished job (its results stay).</summary>
    Task DeleteBulkChunkInputsAsync(string tenantId, Guid bulkJobId, CancellationToken cancellationToken = default);
}

/// <summary>A bulk job as stored.</summary>
public sealed record BulkJobRecord
{
    public required Guid BulkJobId { get; init; }

    /// <summary>The tenant the job, its file and its results belong to.</summary>
    public string TenantId { get; init; } = Tenants.DefaultTenantId;

    /// <summary>The stored model name, qualified by the tenant (<see cref="Tenants.QualifyModel"/>).</summary>
    public required string Model { get; init; }

    /// <summary>As requested until the job starts, then the version every chunk uses.</summary>
    public int? ModelVersion { get; init; }

    public required BulkJobStatus Status { get; init; }
    public required string InputFileId { get; init; }
    public BulkInputFormat? Format { get; init; }
    public int? ChunkSize { get; init; }
    public string? CallbackUrl { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public required DateTimeOffset SubmittedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public string? Error { get; init; }
    public long Total { get; init; }
    public long Succeeded { get; init; }
    public long Failed { get; init; }
    public int ChunksDone { get; init; }

    /// <summary>Null until the file is fully split.</summary>
    public int? ChunksTotal { get; init; }

    /// <summary>Chunks left unscored after a cancel or the end of the completion window.</summary>
    public int ChunksSkipped { get; init; }

    /// <summary>When the retention sweeper removed the job's results (null while they are stored).</summary>
    public DateTimeOffset? OutputsExpiredAt { get; init; }

    public bool IsFinal => BulkStoreRules.IsFinal(Status);

    /// <summary>Every chunk of a fully split file is done: the job can be finalized.</summary>
    public bool AllChunksDone => ChunksTotal is { } total && ChunksDone >= total;
}

/// <summary>One chunk's results: output lines and error lines (UTF-8 JSON lines, each ending in '\n') and their counts.
/// A chunk skipped after a cancel or expiry has no lines and <see cref="Skipped"/> set.</summary>
public sealed record BulkChunkResult
{
    public required int Succeeded { get; init; }
    public required int Failed { get; init; }
    public bool Skipped { get; init; }
    public required ReadOnlyMemory<byte> Output { get; init; }
    public required ReadOnlyMemory<byte> Errors { get; init; }

    /// <summary>A chunk left unscored because its job was cancelled or its completion window ended.</summary>
    public static BulkChunkResult SkippedChunk { get; } = new() { Succeeded = 0, Failed = 0, Skipped = true, Output = default, Errors = default };
}

/// <summary>A job's chunk progress after a store call; <see cref="Recorded"/> says whether that call counted anything.</summary>
public readonly record struct BulkProgress(bool Recorded, int ChunksDone, int? ChunksTotal, int ChunksSkipped)
{
    public bool AllChunksDone => ChunksTotal is { } total && ChunksDone >= total;
}

public enum BulkResultKind
{
    Output,
    Errors,
}
