using System.Diagnostics.CodeAnalysis;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// OpenAI's ids over this server's own: a batch is a bulk job (<c>batch_</c> and the job's GUID), a file an uploaded data
/// file (<c>file-</c> and its id), and a batch's output and error files are its bulk results, read through the
/// translation (<c>file-batch_…_output</c>, <c>file-batch_…_errors</c>). Nothing maps ids: they are derived both ways.
/// </summary>
public static class OpenAiIds
{
    public const string BatchPrefix = "batch_";
    public const string FilePrefix = "file-";
    private const string OutputSuffix = "_output";
    private const string ErrorsSuffix = "_errors";

    public static string Batch(Guid bulkJobId) => BatchPrefix + bulkJobId.ToString("N");

    public static bool TryParseBatch(string? id, out Guid bulkJobId)
    {
        bulkJobId = default;
        return id is not null && id.StartsWith(BatchPrefix, StringComparison.Ordinal) && id.Length == BatchPrefix.Length + 32
            && Guid.TryParseExact(id.AsSpan(BatchPrefix.Length), "N", out bulkJobId);
    }

    public static string File(string datasetId) => FilePrefix + datasetId;

    public static string BatchFile(Guid bulkJobId, BulkResultKind kind) =>
        FilePrefix + Batch(bulkJobId) + (kind == BulkResultKind.Output ? OutputSuffix : ErrorsSuffix);

    /// <summary>A batch's output or error file.</summary>
    public static bool TryParseBatchFile(string? id, out Guid bulkJobId, out BulkResultKind kind)
    {
        bulkJobId = default;
        kind = default;
        if (id is null || !id.StartsWith(FilePrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = id[FilePrefix.Length..];
        if (rest.EndsWith(OutputSuffix, StringComparison.Ordinal))
        {
            kind = BulkResultKind.Output;
            return TryParseBatch(rest[..^OutputSuffix.Length], out bulkJobId);
        }

        kind = BulkResultKind.Errors;
        return rest.EndsWith(ErrorsSuffix, StringComparison.Ordinal) && TryParseBatch(rest[..^ErrorsSuffix.Length], out bulkJobId);
    }

    /// <summary>An uploaded file's data file id.</summary>
    public static bool TryParseFile(string? id, [NotNullWhen(true)] out string? datasetId)
    {
        datasetId = id is not null && id.StartsWith(FilePrefix, StringComparison.Ordinal) && id.Length > FilePrefix.Length
            && id.AsSpan(FilePrefix.Length).ContainsAnyExcept(StoredIdCharacters) is false
            ? id[FilePrefix.Length..]
            : null;
        return datasetId is not null;
    }

    private static readonly System.Buffers.SearchValues<char> StoredIdCharacters =
        System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");
}
