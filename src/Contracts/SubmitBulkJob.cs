using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// Command: score every record of a stored file with one model. The file travels by claim check: it is stored once
/// (<see cref="InputFileId"/>, an uploaded data file) and only referenced here. A worker splits it into chunks, each
/// stored and announced by a <see cref="ScoreBulkChunk"/>, which workers score in parallel.
/// </summary>
public sealed record SubmitBulkJob
{
    /// <summary>Records per chunk when the job does not say. Chunking is a fixed function of the file and these numbers,
    /// so that a worker that re-splits a file after a crash makes the same chunks.</summary>
    public const int DefaultChunkSize = 1000;

    public const int MaxChunkSize = 100_000;

    /// <summary>A chunk also ends before its stored payload would pass this size, however few records it has.</summary>
    public const int MaxChunkBytes = 8 << 20;

    /// <summary>Also the idempotency key: a repeated id yields one bulk job.</summary>
    public required Guid BulkJobId { get; init; }

    public required string Model { get; init; }

    /// <summary>Null: the latest version when the job starts; every chunk then uses that one version.</summary>
    public int? ModelVersion { get; init; }

    /// <summary>The stored input file: JSON lines (<c>{"id": ..., "features": [...]}</c>) or CSV with a header, optionally gzip.</summary>
    public required string InputFileId { get; init; }

    /// <summary>Null: detected from the content.</summary>
    public BulkInputFormat? Format { get; init; }

    /// <summary>Records per chunk; null uses the worker's default.</summary>
    public int? ChunkSize { get; init; }

    /// <summary>Explain every record: each output line carries its attributions (tabular models with background data).</summary>
    public ExplainOptions? Explain { get; init; }

    /// <summary>Where to POST a signed <c>batch.*</c> event when the job ends; null for none.</summary>
    public string? CallbackUrl { get; init; }

    /// <summary>End of the completion window: work not done by then is skipped and the job ends expired with what it has.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    public required DateTimeOffset SubmittedAt { get; init; }

    /// <summary>The tenant and a proof of its API key (purpose "bulk"); the file and the model are the tenant's.</summary>
    public TenantCredentials? Sender { get; init; }
}

[JsonConverter(typeof(JsonStringEnumConverter<BulkInputFormat>))]
public enum BulkInputFormat
{
    JsonLines,
    Csv,
}
