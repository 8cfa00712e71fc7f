namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// A predict request checked against its model and read into typed tensors, in the model's input order, ready to join a
/// batch. Requests batch together when their <see cref="GroupKey"/>s are equal (the same sizes on every axis that is
/// neither the batch axis nor padded); <see cref="Length"/> is what padding would stretch, for grouping similar lengths.
/// </summary>
internal sealed class PreparedRequest(TensorData[] inputs, int rows, string groupKey, long length, bool[]? outputs)
{
    public TensorData[] Inputs { get; } = inputs;

    /// <summary>Rows along the batch axis (1 for a single record; 1 for models without a batch axis).</summary>
    public int Rows { get; } = rows;

    public string GroupKey { get; } = groupKey;

    public long Length { get; } = length;

    /// <summary>Set when a recipe prepared the request from text or an image: what its post-processing needs to know of the
    /// record. Null for tensor requests, whose model outputs are the answer.</summary>
    public Recipes.RecipeRecord? Recipe { get; init; }

    /// <summary>Whether the request asked for the model's output at <paramref name="index"/> (all when it named none).</summary>
    public bool Wants(int index) => outputs is null || outputs[index];
}
