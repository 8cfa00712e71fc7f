namespace AIaaS.Queue.Contracts;

/// <summary>The outputs of a succeeded job, by model output name (<c>GET /v1/jobs/{id}/output</c>).</summary>
public sealed record JobOutputView
{
    public required Guid Id { get; init; }
    public required string Model { get; init; }
    public required int ModelVersion { get; init; }
    public required IReadOnlyDictionary<string, TensorValue> Outputs { get; init; }
}
