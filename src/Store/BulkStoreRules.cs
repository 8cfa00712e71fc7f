using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store;

/// <summary>What both stores check and decide the same way for <see cref="IBulkStore"/>.</summary>
internal static class BulkStoreRules
{
    public static bool IsFinal(BulkJobStatus status) =>
        status is BulkJobStatus.Succeeded or BulkJobStatus.Failed or BulkJobStatus.Cancelled or BulkJobStatus.Expired;

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
