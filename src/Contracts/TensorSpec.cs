namespace AIaaS.Queue.Contracts;

/// <summary>A model input or output as declared by the model file. -1 in <see cref="Shape"/> is a dynamic dimension.</summary>
public sealed record TensorSpec
{
    public required string Name { get; init; }

    /// <summary>numpy-style element type: "float32", "int64", "string", ...</summary>
    public required string ElementType { get; init; }
    public required IReadOnlyList<int> Shape { get; init; }

    /// <summary>The Open Inference Protocol's name for the element type ("FP32", "INT64", "BYTES"); null for types the
    /// protocol has no name for (and for non-tensor values), which cannot be served.</summary>
    public string? Datatype { get; init; }

    /// <summary>The model's names for its dynamic dimensions ("batch_size", "sequence_length"), null where a dimension
    /// is fixed or unnamed. Outputs whose axis shares a padded input axis's name are cut back per request.</summary>
    public IReadOnlyList<string?>? DimensionNames { get; init; }
}
