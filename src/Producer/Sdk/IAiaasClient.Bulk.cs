using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>Bulk offline scoring: a file of records in, an output file (one line per record, joinable by id) and an error file out.</summary>
public partial interface IAiaasClient
{
    /// <summary>Uploads <see cref="BulkScoreRequest.Input"/> (streamed, never held whole) and starts a bulk job.
    /// A repeated <see cref="BulkScoreRequest.BulkJobId"/> returns the job it already names.</summary>
    Task<BulkJobView> SubmitBulkAsync(BulkScoreRequest request, CancellationToken cancellationToken = default);

    /// <summary>The bulk job's status and counts, or null for an unknown id.</summary>
    Task<BulkJobView?> GetBulkAsync(Guid bulkJobId, CancellationToken cancellationToken = default);

    /// <summary>Polls the bulk job until it is final, reporting each new state to <paramref name="progress"/>.</summary>
    Task<BulkJobView> WaitForBulkAsync(Guid bulkJobId, IProgress<BulkJobView>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Streams the job's output lines (or its error lines) to <paramref name="destination"/>; partial while it runs.</summary>
    Task DownloadBulkResultsAsync(Guid bulkJobId, Stream destination, bool errors = false, CancellationToken cancellationToken = default);

    /// <summary>Stops a bulk job; what was scored stays in its output. Returns the job as it is after the request.</summary>
    Task<BulkJobView> CancelBulkAsync(Guid bulkJobId, CancellationToken cancellationToken = default);
}

/// <summary>A file to score: JSON lines (<c>{"id": .., "features": [..]}</c>) or CSV with a header (an optional id column,
/// then the input values), optionally gzip-compressed.</summary>
public sealed record BulkScoreRequest
{
    public required string Model { get; init; }
    public int? ModelVersion { get; init; }
    public required Stream Input { get; init; }

    /// <summary>Null: detected from the content.</summary>
    public BulkInputFormat? Format { get; init; }

    /// <summary>The idempotency key; null makes a new one.</summary>
    public Guid? BulkJobId { get; init; }

    public int? ChunkSize { get; init; }
    public Uri? CallbackUrl { get; init; }

    /// <summary>Work not done within this window is skipped and the job ends expired, keeping its partial output.</summary>
    public TimeSpan? CompletionWindow { get; init; }

    /// <summary>Explain every record: each output line carries its attributions (<c>"explanation"</c>), as
    /// <see cref="PredictRequest.Explain"/> gives them for one. Tabular models with background data only: for any other
    /// the bulk job fails with the reason.</summary>
    public ExplainOptions? Explain { get; init; }
}
