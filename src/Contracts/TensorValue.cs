namespace AIaaS.Queue.Contracts;

/// <summary>A dense float tensor for one record: shape without the batch dimension, data in row-major order.</summary>
public sealed record TensorValue
{
    public required IReadOnlyList<int> Shape { get; init; }
    public required float[] Data { get; init; }
}
