using System.Text.Json;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// One named tensor in the Open Inference Protocol's JSON form (KServe v2), as a job's input and as its output.
/// <see cref="Data"/> holds the elements in row-major order, flat or nested: numbers for the numeric types, true/false
/// for BOOL, strings for BYTES. <see cref="Shape"/> is the whole tensor's shape, the batch dimension first where the
/// model has one (<c>[1, 8]</c> for one sequence of 8 tokens).
/// </summary>
public sealed record InferTensor
{
    public required string Name { get; init; }

    /// <summary>One of <see cref="TensorDatatypes"/>: FP32, INT64, BYTES, ...</summary>
    public required string Datatype { get; init; }

    /// <summary>Null only in the shorthand of earlier versions (<c>features</c>, or inputs given as a map of float
    /// arrays): one record of the model's fixed shape.</summary>
    public IReadOnlyList<long>? Shape { get; init; }

    public required JsonElement Data { get; init; }
}
