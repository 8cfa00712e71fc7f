namespace AIaaS.Queue.Contracts;

/// <summary>A model input or output as declared by the model file. -1 in <see cref="Shape"/> is a dynamic dimension.</summary>
public sealed record TensorSpec
{
    public required string Name { get; init; }
    public required string ElementType { get; init; }
    public required IReadOnlyList<int> Shape { get; init; }
}
