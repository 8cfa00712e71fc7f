using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>Bounds a request may not pass, whatever its model.</summary>
/// <param name="MaxInputValues">Elements across all of a request's inputs.</param>
/// <param name="MaxStringBytes">UTF-8 bytes across a request's BYTES elements.</param>
internal readonly record struct InputLimits(long MaxInputValues, long MaxStringBytes)
{
    /// <summary>The worker options' defaults.</summary>
    public static InputLimits Default { get; } = new(new WorkerOptions().MaxInputValues, new WorkerOptions().MaxInputBytes);
}

/// <summary>
/// Checks a predict request against its model before it may join a batch, and reads it into typed tensors, so that a bad
/// request fails alone with a reason instead of failing the model call for everyone in its batch: wrong datatype, data
/// that does not fit the datatype, a shape that does not match the data or the model (rank, fixed dimensions, a dynamic
/// dimension above its registered maximum, a batch above the model's), too much data, unknown or missing names.
/// </summary>
internal static class RequestPreparer
{
    public static (PreparedRequest? Request, string? Error) Prepare(LoadedModel model, SubmitPredictJob job, InputLimits limits)
    {
        if (job.Text is not null || job.Image is not null)
        {
            return Recipes.RecipeRequests.Prepare(model, job, limits);
        }

        var hasFeatures = job.Features is not null;
        var hasInputs = job.Inputs is { Count: > 0 };
        if (hasFeatures == hasInputs)
        {
            return (null, hasFeatures
                ? "Give either Features or Inputs, not both."
                : model.Recipe is { } recipe
                ? $"No input given: model '{model.Name}' takes {(recipe is Recipes.TextRunner ? "Text" : "an Image")} (its recipe is {recipe.Recipe.Kind}), or tensors by name in Inputs ({InputNames(model)})."
                : $"No input given: set Features to the {Describe(model, model.Inputs[0])} for model '{model.Name}', or give Inputs by name ({InputNames(model)}).");
        }

        var tensors = new TensorData[model.Inputs.Count];
        if (hasFeatures)
        {
            if (model.Inputs.Count != 1)
            {
                return (null, $"Model '{model.Name}' has {model.Inputs.Count} inputs ({InputNames(model)}); give them by name in Inputs.");
            }

            var (tensor, error) = FromFloats(model, model.Inputs[0], job.Features!);
            if (error is not null)
            {
                return (null, error);
            }

            tensors[0] = tensor!;
        }
        else
        {
            var error = ReadInputs(model, job.Inputs!, limits, tensors);
            if (error is not null)
            {
                return (null, error);
            }
        }

        var total = tensors.Sum(t => (long)t.Length);
        if (total > limits.MaxInputValues)
        {
            return (null, $"The request has {total} input values; at most {limits.MaxInputValues} are accepted.");
        }

        var rows = 1;
        if (model.BatchMode == BatchMode.Dynamic)
        {
            rows = checked((int)tensors[0].Shape[0]);
            for (var i = 1; i < tensors.Length; i++)
            {
                if (tensors[i].Shape[0] != rows)
                {
                    return (null, $"Inputs '{model.Inputs[0].Name}' and '{model.Inputs[i].Name}' disagree on the batch dimension ({rows} and {tensors[i].Shape[0]}).");
                }
            }

            if (rows > model.MaxBatchSize)
            {
                return (null, $"The request holds {rows} rows along the batch dimension; model '{model.Name}' takes at most {model.MaxBatchSize} per call.");
            }
        }

        var (wanted, outputError) = RequestedOutputs(model, job.Outputs);
        if (outputError is not null)
        {
            return (null, outputError);
        }

        var (key, length) = GroupOf(model, tensors);
        return (new PreparedRequest(tensors, rows, key, length, wanted), null);
    }

    /// <summary>A bulk record: every input's float values back to back, already checked against the model's record lengths.</summary>
    public static PreparedRequest FromFloatRecord(LoadedModel model, ReadOnlySpan<float> values)
    {
        var tensors = new TensorData[model.Inputs.Count];
        var offset = 0;
        for (var i = 0; i < tensors.Length; i++)
        {
            var input = model.Inputs[i];
            var length = input.RecordLength;
            tensors[i] = new TensorData(TensorElementType.Float, model.BatchMode == BatchMode.None ? input.RecordDims : [1, .. input.RecordDims],
                values.Slice(offset, length).ToArray());
            offset += length;
        }

        return new PreparedRequest(tensors, 1, "", 0, null);
    }

    private static string? ReadInputs(LoadedModel model, IReadOnlyList<InferTensor> given, InputLimits limits, TensorData[] tensors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in given)
        {
            if (tensor?.Name is null)
            {
                return "Every input needs a name.";
            }

            if (!seen.Add(tensor.Name))
            {
                return $"Input '{tensor.Name}' is given twice.";
            }

            if (!model.Inputs.Any(i => i.Name == tensor.Name))
            {
                return $"Model '{model.Name}' has no input '{tensor.Name}'; its inputs are {InputNames(model)}.";
            }
        }

        var stringBytes = limits.MaxStringBytes;
        for (var i = 0; i < model.Inputs.Count; i++)
        {
            var input = model.Inputs[i];
            var tensor = given.FirstOrDefault(t => t.Name == input.Name);
            if (tensor is null)
            {
                return $"Input '{input.Name}' is missing: it takes {Describe(model, input)}.";
            }

            var (data, error) = tensor.Shape is null
                ? FromLegacyFloats(model, input, tensor)
                : Read(model, input, tensor, limits.MaxInputValues, stringBytes);
            if (error is not null)
            {
                return error;
            }

            if (input.Type == TensorElementType.String)
            {
                stringBytes -= ((string[])data!.Values).Sum(s => (long)Encoding.UTF8.GetByteCount(s));
            }

            tensors[i] = data!;
        }

        return null;
    }

    private static (TensorData?, string?) Read(LoadedModel model, ModelInput input, InferTensor tensor, long maxValues, long maxStringBytes)
    {
        if (OnnxTypes.ElementType(tensor.Datatype) is not { } type)
        {
            return (null, $"Input '{input.Name}' has datatype '{tensor.Datatype}', which is not one of {string.Join(", ", TensorDatatypes.All)}.");
        }

        if (type != input.Type)
        {
            return (null, $"Input '{input.Name}' is {input.Datatype}; the request gives {tensor.Datatype}.");
        }

        var shape = tensor.Shape!.ToArray();
        if (ShapeProblem(model, input, shape) is { } shapeProblem)
        {
            return (null, shapeProblem);
        }

        long count;
        try
        {
            count = ShapeMath.Count(shape);
        }
        catch (OverflowException)
        {
            count = long.MaxValue;
        }

        if (count > maxValues)
        {
            return (null, $"Input '{input.Name}' has shape {ShapeMath.Text(shape)}, {count} values; at most {maxValues} are accepted.");
        }

        var (values, error) = TensorJson.Read(tensor.Data, type, count, input.Name, maxStringBytes);
        return error is null ? (new TensorData(type, shape, values!), null) : (null, error);
    }

    private static string? ShapeProblem(LoadedModel model, ModelInput input, long[] shape)
    {
        if (shape.Length != input.Dims.Length)
        {
            return $"Input '{input.Name}' has shape {ShapeMath.Text(shape)}, rank {shape.Length}; the model takes rank {input.Dims.Length}, shape {input.ShapeText}" +
                (model.BatchMode == BatchMode.Dynamic ? " (the batch dimension first)." : ".");
        }

        for (var axis = 0; axis < shape.Length; axis++)
        {
            if (shape[axis] < 0 || (axis == 0 && model.BatchMode == BatchMode.Dynamic && shape[axis] == 0))
            {
                return $"Input '{input.Name}' has shape {ShapeMath.Text(shape)}: axis {axis} must be {(axis == 0 ? "at least 1" : "0 or more")}.";
            }

            if (input.Dims[axis] >= 0 && shape[axis] != input.Dims[axis])
            {
                return $"Input '{input.Name}' has shape {ShapeMath.Text(shape)}; the model takes {input.ShapeText}: axis {axis} must be {input.Dims[axis]}.";
            }

            if (input.MaxShape[axis] > 0 && shape[axis] > input.MaxShape[axis])
            {
                var name = input.DimNames[axis] is { } n ? $" ({n})" : "";
                return $"Input '{input.Name}' has shape {ShapeMath.Text(shape)}: axis {axis}{name} is {shape[axis]}, above its maximum of {input.MaxShape[axis]}.";
            }
        }

        return null;
    }

    /// <summary>The shorthand of earlier versions: one record of float values, the batch dimension left out, for an FP32
    /// input whose other dimensions are all fixed.</summary>
    private static (TensorData?, string?) FromFloats(LoadedModel model, ModelInput input, float[] values)
    {
        if (input.Type != TensorElementType.Float || RecordShape(model, input).Any(d => d < 0))
        {
            return (null, $"Input '{input.Name}' is {input.Datatype} of shape {input.ShapeText}; give it in the tensor form (name, datatype, shape, data), not as a plain list of floats.");
        }

        var record = RecordShape(model, input);
        var length = ShapeMath.Count(record);
        if (values.Length == 0)
        {
            return (null, $"Input '{input.Name}' is empty; it takes {Describe(model, input)}.");
        }

        if (values.Length != length)
        {
            return (null, $"Input '{input.Name}' has {values.Length} values; it takes {Describe(model, input)}.");
        }

        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return (null, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"Input '{input.Name}' has a non-finite value ({values[i]}) at index {i}; every value must be a finite number."));
            }
        }

        var shape = model.BatchMode == BatchMode.None ? record : [1, .. record];
        return (new TensorData(TensorElementType.Float, shape, values), null);
    }

    private static (TensorData?, string?) FromLegacyFloats(LoadedModel model, ModelInput input, InferTensor tensor)
    {
        if (tensor.Data.ValueKind != System.Text.Json.JsonValueKind.Array)
        {
            return (null, $"Input '{input.Name}': give a list of numbers, or the tensor form (name, datatype, shape, data).");
        }

        var values = new List<float>(tensor.Data.GetArrayLength());
        foreach (var item in tensor.Data.EnumerateArray())
        {
            if (item.ValueKind == System.Text.Json.JsonValueKind.Number)
            {
                values.Add(item.GetSingle());
            }
            else if (item.ValueKind == System.Text.Json.JsonValueKind.String && float.TryParse(item.GetString(),
                System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var named))
            {
                values.Add(named);
            }
            else
            {
                return (null, $"Input '{input.Name}': the value {item.GetRawText()} at index {values.Count} is not a number.");
            }
        }

        return FromFloats(model, input, [.. values]);
    }

    private static (bool[]? Wanted, string? Error) RequestedOutputs(LoadedModel model, IReadOnlyList<RequestedOutput>? requested)
    {
        if (requested is not { Count: > 0 })
        {
            return (null, null);
        }

        var wanted = new bool[model.Outputs.Count];
        foreach (var output in requested)
        {
            var index = -1;
            for (var o = 0; o < model.Outputs.Count; o++)
            {
                if (model.Outputs[o].Name == output?.Name)
                {
                    index = o;
                }
            }

            if (index < 0)
            {
                return (null, $"Model '{model.Name}' has no output '{output?.Name}'; its outputs are {string.Join(", ", model.Outputs.Select(o => o.Name))}.");
            }

            wanted[index] = true;
        }

        return (wanted, null);
    }

    /// <summary>The sizes that must be equal to share a batch (every axis but the batch axis and padded ones), and the
    /// padded length (the product of the padded axes' sizes of the first padded input).</summary>
    internal static (string Key, long Length) GroupOf(LoadedModel model, TensorData[] tensors)
    {
        var key = new StringBuilder();
        long length = 0;
        for (var i = 0; i < tensors.Length; i++)
        {
            var input = model.Inputs[i];
            long padded = 1;
            for (var axis = 1; axis < tensors[i].Shape.Length; axis++)
            {
                if (input.Padded[axis])
                {
                    padded *= tensors[i].Shape[axis];
                }
                else
                {
                    key.Append(tensors[i].Shape[axis]).Append(',');
                }
            }

            key.Append(';');
            if (length == 0 && input.IsPadded)
            {
                length = padded;
            }
        }

        return (key.ToString(), length);
    }

    private static long[] RecordShape(LoadedModel model, ModelInput input) =>
        model.BatchMode == BatchMode.None ? input.Dims : input.Dims[1..];

    private static string InputNames(LoadedModel model) => string.Join(", ", model.Inputs.Select(i => i.Name));

    private static string Describe(LoadedModel model, ModelInput input)
    {
        var record = RecordShape(model, input);
        return input.Type == TensorElementType.Float && record.All(d => d >= 0)
            ? $"the {ShapeMath.Count(record)} float values of one record (model shape {input.ShapeText})"
            : $"a {input.Datatype} tensor of shape {input.ShapeText}" + (model.BatchMode == BatchMode.Dynamic ? " (batch dimension first)" : "");
    }
}
