using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Domain;

/// <summary>What a model must declare to be served; checked when a model is registered, so that an unservable file is
/// refused at upload rather than failing every job later. Batching settings are checked by the registration's own rules.</summary>
public static class ServingRules
{
    public static string? FindProblem(IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs)
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

        return null;
    }
}
