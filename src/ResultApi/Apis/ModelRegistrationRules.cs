using System.Globalization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// What a registration's batching settings must satisfy against the model file's own signature, checked at
/// <c>PUT /v1/models/{name}</c> so that settings the workers would refuse when they load the model (every job failing) are
/// refused at once, with the reason. The workers check the same when they load a version, whatever registered it.
/// </summary>
public static class ModelRegistrationRules
{
    /// <summary>Why <paramref name="batching"/> does not fit the model, or null when it does.</summary>
    public static string? BatchingProblem(ModelSignature signature, BatchingSettings? batching)
    {
        ArgumentNullException.ThrowIfNull(signature);
        var mode = signature.BatchMode;
        foreach (var (name, settings) in batching?.Inputs ?? new Dictionary<string, InputBatching>())
        {
            var input = signature.Inputs.FirstOrDefault(i => i.Name == name);
            if (input is null)
            {
                return $"The model has no input '{name}'; its inputs are {string.Join(", ", signature.Inputs.Select(i => i.Name))}.";
            }

            var shape = $"[{string.Join(", ", input.Shape)}]";
            foreach (var axis in settings.PadAxes ?? [])
            {
                if (axis < 0 || axis >= input.Shape.Count)
                {
                    return $"Input '{name}' (shape {shape}) has no axis {axis} to pad; its axes are 0 to {input.Shape.Count - 1}.";
                }

                if (axis == 0 && mode == BatchMode.Dynamic)
                {
                    return $"Input '{name}' cannot be padded on axis 0: that is the batch axis, along which requests are merged. Pad a dynamic axis after it.";
                }

                if (input.Shape[axis] >= 0)
                {
                    return $"Input '{name}' (shape {shape}) cannot be padded on axis {axis}: the model fixes it at {input.Shape[axis]}. Only dynamic axes (-1) can be padded.";
                }
            }

            if (settings.PadAxes is { Count: > 0 } && PadValueProblem(input, settings.PadValue) is { } valueProblem)
            {
                return valueProblem;
            }

            if (settings.MaxShape is { } maxShape)
            {
                if (maxShape.Count != input.Shape.Count)
                {
                    return $"The maximum shape of input '{name}' has {maxShape.Count} axes; the input has {input.Shape.Count} (shape {shape}). Give one size per axis, -1 for no bound.";
                }

                for (var axis = 0; axis < maxShape.Count; axis++)
                {
                    if (maxShape[axis] is 0 or < -1)
                    {
                        return $"The maximum shape of input '{name}' has {maxShape[axis]} on axis {axis}; give a size above 0, or -1 for no bound.";
                    }

                    if (input.Shape[axis] >= 0 && maxShape[axis] > 0 && maxShape[axis] != input.Shape[axis])
                    {
                        return $"The maximum shape of input '{name}' has {maxShape[axis]} on axis {axis}, which the model fixes at {input.Shape[axis]}; give -1 or {input.Shape[axis]} there.";
                    }
                }
            }
        }

        return null;
    }

    /// <summary>Why an input can never be served: its fixed dimensions alone (each dynamic one counted as 1) hold more values
    /// than one request may carry, so that every job would fail; or null.</summary>
    public static string? InputSizeProblem(ModelSignature signature, long maxInputValues)
    {
        ArgumentNullException.ThrowIfNull(signature);
        foreach (var input in signature.Inputs)
        {
            var values = 1d;
            foreach (var dimension in input.Shape)
            {
                values *= Math.Max(1, dimension);
            }

            if (values > maxInputValues)
            {
                return $"Input '{input.Name}' (shape [{string.Join(", ", input.Shape)}]) takes at least {values:0} values per request; "
                    + $"at most {maxInputValues} are accepted, so no request could be served.";
            }
        }

        return null;
    }

    /// <summary>Why <paramref name="value"/> cannot be written into padding of the input's datatype, or null.</summary>
    private static string? PadValueProblem(TensorSpec input, double value)
    {
        var (min, max) = input.Datatype switch
        {
            TensorDatatypes.Bool => (0d, 1d),
            TensorDatatypes.UInt8 => (byte.MinValue, byte.MaxValue),
            TensorDatatypes.UInt16 => (ushort.MinValue, ushort.MaxValue),
            TensorDatatypes.UInt32 => (uint.MinValue, uint.MaxValue),
            TensorDatatypes.UInt64 => (0d, ulong.MaxValue),
            TensorDatatypes.Int8 => (sbyte.MinValue, sbyte.MaxValue),
            TensorDatatypes.Int16 => (short.MinValue, short.MaxValue),
            TensorDatatypes.Int32 => (int.MinValue, int.MaxValue),
            TensorDatatypes.Int64 => (long.MinValue, long.MaxValue),
            TensorDatatypes.Bytes => (0d, 0d),
            _ => (double.MinValue, double.MaxValue),
        };
        var integral = min != double.MinValue;
        if (value >= min && value <= max && (!integral || Math.Round(value) == value))
        {
            return null;
        }

        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return input.Datatype switch
        {
            TensorDatatypes.Bytes => $"Input '{input.Name}' is BYTES: its padding is the empty string, so give no pad value (or 0), not {text}.",
            TensorDatatypes.Bool => $"Input '{input.Name}' is BOOL: its pad value is 0 (false) or 1 (true), not {text}.",
            _ => $"Input '{input.Name}' is {input.Datatype}: its pad value must be an integer from {min:R} to {max:R}, not {text}.",
        };
    }

    /// <summary>Why <paramref name="background"/> does not fit the model: explanations cover one float input of
    /// [batch, features], and the background needs as many features; null when it fits.</summary>
    public static string? BackgroundProblem(ModelSignature signature, ExplanationBackground background)
    {
        if (signature.Inputs is not [{ ElementType: "float32", Shape: [-1, var features] } input] || features <= 0)
        {
            var inputs = string.Join(", ", signature.Inputs.Select(i => $"'{i.Name}' {i.ElementType} [{string.Join(", ", i.Shape)}]"));
            return $"A background file goes with a tabular model (one float32 input of shape [batch, features]); this model's inputs are {inputs}.";
        }

        return background.Features.Count == features ? null
            : $"The background file has {background.Features.Count} features ({string.Join(", ", background.Features)}); the model's input '{input.Name}' takes {features}.";
    }
}
