namespace AIaaS.Queue.Contracts;

/// <summary>A data file uploaded for training (<c>POST /v1/datasets</c>); pass <see cref="Id"/> as <see cref="TrainingDataset.FileId"/>.</summary>
public sealed record DatasetView
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required long SizeBytes { get; init; }
    public required string Sha256 { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the file's content was removed under its tenant's retention; null while it is stored. A file that
    /// expired answers 410 Gone.</summary>
    public DateTimeOffset? ExpiredAt { get; init; }
}
