using System.Globalization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;

namespace AIaaS.Queue.Workers.Consumers;

/// <summary>Checks a predict job against the model's declared inputs before it may join a batch, so that a bad
/// record fails alone with a reason instead of failing the model call for everyone in its batch.</summary>
internal static class PredictInputValidator
{
    /// <summary>Returns the inputs in the model's order, or the reason the job cannot run.</summary>
    public static (float[][]? Inputs, string? Error) Validate(LoadedModel model, SubmitPredictJob job)
    {
        var hasFeatures = job.Features is not null;
        var hasInputs = job.Inputs is { Count: > 0 };
        if (hasFeatures == hasInputs)
        {
            return (null, hasFeatures
                ? "Give either Features or Inputs, not both."
                : $"No input given: set Features to the {Describe(model.Inputs[0])} for model '{model.Name}'" +
                  (model.Inputs.Count > 1 ? $", or Inputs by name ({string.Join(", ", model.Inputs.Select(i => i.Name))})." : "."));
        }

        var result = new float[model.Inputs.Count][];
        if (hasFeatures)
        {
            if (model.Inputs.Count != 1)
            {
                return (null, $"Model '{model.Name}' has {model.Inputs.Count} inputs ({string.Join(", ", model.Inputs.Select(i => i.Name))}); give them by name in Inputs.");
            }

            var error = Check(model.Inputs[0], job.Features!);
            result[0] = job.Features!;
            return error is null ? (result, null) : (null, error);
        }

        foreach (var name in job.Inputs!.Keys)
        {
            if (!model.Inputs.Any(i => i.Name == name))
            {
                return (null, $"Model '{model.Name}' has no input '{name}'; its inputs are {string.Join(", ", model.Inputs.Select(i => i.Name))}.");
            }
        }

        for (var i = 0; i < model.Inputs.Count; i++)
        {
            var input = model.Inputs[i];
            if (!job.Inputs.TryGetValue(input.Name, out var values) || values is null)
            {
                return (null, $"Input '{input.Name}' is missing: it takes the {Describe(input)}.");
            }

            var error = Check(input, values);
            if (error is not null)
            {
                return (null, error);
            }

            result[i] = values;
        }

        return (result, null);
    }

    private static string? Check(ModelInput input, float[] values)
    {
        if (values.Length == 0)
        {
            return $"Input '{input.Name}' is empty; it takes the {Describe(input)}.";
        }

        if (values.Length != input.RecordLength)
        {
            return $"Input '{input.Name}' has {values.Length} values; it takes the {Describe(input)}.";
        }

        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"Input '{input.Name}' has a non-finite value ({values[i]}) at index {i}; every value must be a finite number.");
            }
        }

        return null;
    }

    private static string Describe(ModelInput input) =>
        $"{input.RecordLength} float values of one record (model shape {input.ShapeText})";
}
