using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Workers;

/// <summary>What a model must declare for the predict path to batch it; checked when a model is registered,
/// so that an unservable file is refused at upload rather than failing every job later.</summary>
public static class ServingRules
{
    public static string? FindProblem(IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs)
    {
        if (inputs.Count == 0)
        {
            return "The model declares no inputs.";
        }

        foreach (var input in inputs)
        {
            if (input.ElementType != "float32")
            {
                return $"Input '{input.Name}' is {input.ElementType}; only float32 inputs are supported.";
            }

            if (input.Shape.Count < 2)
            {
                return $"Input '{input.Name}' has rank {input.Shape.Count}; inputs need a batch dimension followed by the record's dimensions.";
            }

            if (input.Shape.Skip(1).Any(d => d <= 0))
            {
                return $"Input '{input.Name}' has shape [{string.Join(", ", input.Shape)}]; only the first (batch) dimension may be dynamic.";
            }

            if (input.Shape[0] > 1)
            {
                return $"Input '{input.Name}' has a fixed batch dimension of {input.Shape[0]}; it must be dynamic or 1.";
            }
        }

        return outputs.Count == 0 ? "The model declares no outputs." : null;
    }
}
