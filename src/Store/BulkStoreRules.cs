using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>What both stores check and decide the same way for <see cref="IBulkStore"/>: the backends store and count, these decide.</summary>
internal static class BulkStoreRules
{
    /// <summary>The statuses a bulk job never leaves; retention sweeps only these, and a file such a job reads is no longer in use.</summary>
    public static readonly IReadOnlyList<BulkJobStatus> FinalStatuses = Enum.GetValues<BulkJobStatus>().Where(IsFinal).ToArray();

    public static bool IsFinal(BulkJobStatus status) =>
        status is BulkJobStatus.Succeeded or BulkJobStatus.Failed or BulkJobStatus.Cancelled or BulkJobStatus.Expired;

    /// <summary>
    /// What moving a bulk job to <paramref name="to"/> writes besides its status: entering Running stamps the start once and
    /// the model version when given; entering a final state stamps the end and sets the error (none clears it); an error given
    /// with any other move is recorded; a detected input format is recorded with any move. The backends apply it in one
    /// conditional update guarded by the job's current status, which only they can make atomic.
    /// </summary>
    public static BulkTransition Transition(BulkJobStatus to, long nowTicks, int? modelVersion, string? error, BulkInputFormat? format)
    {
        var starts = to == BulkJobStatus.Running;
        var ends = IsFinal(to);
        return new BulkTransition(to, nowTicks, starts, starts ? modelVersion : null, ends, ends || error is not null, error, format);
    }

    public static void CheckChunk(int chunkIndex, int recordCount = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chunkIndex);
        ArgumentOutOfRangeException.ThrowIfNegative(recordCount);
    }

    public static void CheckResult(BulkChunkResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentOutOfRangeException.ThrowIfNegative(result.Succeeded);
        ArgumentOutOfRangeException.ThrowIfNegative(result.Failed);
    }

    /// <summary>The column or element holding a chunk's lines of this kind, named alike in both stores.</summary>
    public static string ResultField(BulkResultKind kind) => kind switch
    {
        BulkResultKind.Output => "output",
        BulkResultKind.Errors => "errors",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static KeyNotFoundException UnknownJob(Guid bulkJobId) => new($"No bulk job with id {bulkJobId} is stored.");
}

/// <summary>The fields one bulk job move writes (<see cref="BulkStoreRules.Transition"/>): <see cref="StartsIfNotStarted"/> sets
/// StartedAt to <see cref="NowTicks"/> only where it is missing; a null <see cref="ModelVersion"/> or <see cref="Format"/>
/// leaves the stored one; <see cref="SetsError"/> writes <see cref="Error"/>, null included.</summary>
internal readonly record struct BulkTransition(BulkJobStatus To, long NowTicks, bool StartsIfNotStarted, int? ModelVersion, bool Ends,
    bool SetsError, string? Error, BulkInputFormat? Format);
