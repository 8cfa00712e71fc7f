namespace AIaaS.Queue.Contracts;

/// <summary>
/// The data of a train job: either inline (<see cref="Columns"/> and <see cref="Rows"/>, values as text, the way a
/// CSV file holds them) or a file uploaded to the store (<see cref="FileId"/>, CSV with a header line or JSON lines).
/// </summary>
public sealed record TrainingDataset
{
    /// <summary>Id returned by <c>POST /v1/datasets</c>.</summary>
    public string? FileId { get; init; }

    /// <summary>Column names of <see cref="Rows"/>.</summary>
    public IReadOnlyList<string>? Columns { get; init; }

    /// <summary>Inline rows, one value per column, as text.</summary>
    public IReadOnlyList<IReadOnlyList<string>>? Rows { get; init; }
}
