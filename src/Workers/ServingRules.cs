using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;

namespace AIaaS.Queue.Workers;

/// <summary>What a model must declare to be served, and what its batching settings may ask of it; checked when a model is
/// registered, so that an unservable file or an impossible padding is refused at upload rather than failing every job later.</summary>
public static class ServingRules
{
    public static string? FindProblem(IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs, BatchingSettings? batching = null)
    {
        if (inputs.Count == 0)
        {
            return "The model declares no inputs.";
        }

        if (outputs.Count == 0)
        {
            return "The model declares no outputs.";
        }

        foreach (var tensor in inputs.Concat(outputs))
        {
            if (tensor.Datatype is null)
            {
                var kind = inputs.Contains(tensor) ? "Input" : "Output";
                return $"{kind} '{tensor.Name}' is {tensor.ElementType}, which the Open Inference Protocol has no datatype for; "
                    + $"tensors of {string.Join(", ", TensorDatatypes.All)} can be served.";
            }
        }

        return batching is null ? null : BatchingProblem(inputs, batching);
    }

    /// <summary>Why per-input batching settings do not fit the model's inputs, or null: padded axes must exist and be
    /// dynamic, and never the batch axis of a model that batches along it.</summary>
    public static string? BatchingProblem(IReadOnlyList<TensorSpec> inputs, BatchingSettings batching)
    {
        var mode = OnnxTypes.BatchModeOf(inputs);
        foreach (var (name, settings) in batching.Inputs ?? new Dictionary<string, InputBatching>())
        {
            var input = inputs.FirstOrDefault(i => i.Name == name);
            if (input is null)
            {
                return $"The model has no input '{name}'; its inputs are {string.Join(", ", inputs.Select(i => i.Name))}.";
            }

            foreach (var axis in settings.PadAxes ?? [])
            {
                if (axis < 0 || axis >= input.Shape.Count || input.Shape[axis] >= 0 || (axis == 0 && mode == BatchMode.Dynamic))
                {
                    return $"Input '{name}' (shape [{string.Join(", ", input.Shape)}]) cannot be padded on axis {axis}: only its dynamic axes after the batch axis can.";
                }
            }

            if (settings.MaxShape is { } max && max.Count != input.Shape.Count)
            {
                return $"The maximum shape of input '{name}' has {max.Count} axes; the input has {input.Shape.Count}.";
            }
        }

        return null;
    }
}
