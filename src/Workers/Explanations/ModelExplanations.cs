using System.Globalization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Explanations;

/// <summary>
/// Kernel SHAP on a loaded model: which models it covers (tabular: one float vector input, a dynamic batch dimension, no
/// recipe, background data), and the explanation of records as the wire carries it. Coalition rows go to the model's own
/// shared session in calls of <c>rowsPerCall</c> rows, beside (never through) the batcher's predict calls.
/// </summary>
internal static class ModelExplanations
{
    /// <summary>Why explanations of <paramref name="model"/> are refused; null when it can be explained.</summary>
    public static string? Problem(LoadedModel model)
    {
        var what = $"Model '{model.Name}' v{model.Version}";
        if (model.Recipe is not null)
        {
            return $"{what} cannot be explained: it takes text or images through its recipe; explanations cover tabular models, whose one input is a vector of floats.";
        }

        if (model.Inputs.Count != 1 || model.Inputs[0].RecordLength <= 0 || model.Inputs[0].RecordDims.Length != 1)
        {
            var inputs = string.Join(", ", model.Inputs.Select(i => $"'{i.Name}' {i.Datatype} {i.ShapeText}"));
            return $"{what} cannot be explained: its inputs are {inputs}; explanations cover tabular models, whose one input is a vector of floats ([batch, features]).";
        }

        if (model.BatchMode != BatchMode.Dynamic)
        {
            return $"{what} cannot be explained: it has no dynamic batch dimension, and an explanation runs the model on thousands of rows at once.";
        }

        if (ExplainedOutputs(model).Count == 0)
        {
            return $"{what} cannot be explained: none of its outputs is a float tensor of fixed size per record.";
        }

        if (model.Background is not { } background)
        {
            return $"{what} has no background data to explain against: register the model with one (aiaas models register --background data.csv) or train it with a train job, which keeps a sample of its training data.";
        }

        return background.Features.Count != model.Inputs[0].RecordLength
            ? $"{what} cannot be explained: its background data has {background.Features.Count} features and the model takes {model.Inputs[0].RecordLength}."
            : null;
    }

    /// <summary>Why the options themselves are refused; null when they are usable.</summary>
    public static string? OptionsProblem(ExplainOptions options) =>
        options.Samples is < 2 or > ExplainOptions.MaxSamples
            ? string.Create(CultureInfo.InvariantCulture, $"explain.samples is {options.Samples}; give between 2 and {ExplainOptions.MaxSamples} coalitions.")
            : null;

    /// <summary>An explainer of <paramref name="model"/>, which <see cref="Problem"/> found explainable.</summary>
    public static ModelExplainer Create(LoadedModel model, ExplainOptions options, int rowsPerCall) =>
        new(model, options, rowsPerCall);

    /// <summary>The outputs explained: every float output with a fixed size per record, in the model's order.</summary>
    public static List<int> ExplainedOutputs(LoadedModel model)
    {
        var explained = new List<int>();
        for (var o = 0; o < model.Outputs.Count; o++)
        {
            var output = model.Outputs[o];
            if (output.Type is TensorElementType.Float or TensorElementType.Double && output.Dims.Length >= 1 && output.Dims.Skip(1).All(d => d >= 0))
            {
                explained.Add(o);
            }
        }

        return explained;
    }
}

/// <summary>One model's Kernel SHAP explainer with its coalitions, background and base values, reused across records.</summary>
internal sealed class ModelExplainer
{
    private readonly LoadedModel _model;
    private readonly List<int> _outputs;
    private readonly int[] _widths;
    private readonly bool[] _wanted;
    private readonly KernelShapExplainer _explainer;
    private readonly ExplanationBackground _background;

    public ModelExplainer(LoadedModel model, ExplainOptions options, int rowsPerCall)
    {
        _model = model;
        _background = model.Background ?? throw new InvalidOperationException($"Model '{model.Name}' has no background data.");
        _outputs = ModelExplanations.ExplainedOutputs(model);
        _widths = [.. _outputs.Select(o => (int)model.Outputs[o].Dims.Skip(1).Aggregate(1L, (a, d) => a * d))];
        _wanted = new bool[model.Outputs.Count];
        _outputs.ForEach(o => _wanted[o] = true);
        var features = _background.Features.Count;
        var coalitions = Coalitions.For(features, options.Samples, options.Seed ?? 0, ExplainOptions.MaxExactFeatures);
        _explainer = new KernelShapExplainer(BackgroundData.From(_background), coalitions, _widths.Sum(), Evaluate, rowsPerCall);
    }

    /// <summary>Model calls made so far (the base values' one included).</summary>
    public int ModelCalls => _explainer.ModelCalls;

    /// <summary>The explanations of <paramref name="records"/> (each one float vector), in one stream of large model calls.</summary>
    public Explanation[] Explain(IReadOnlyList<float[]> records) =>
        Array.ConvertAll(_explainer.Explain(records), ToExplanation);

    private void Evaluate(float[] rows, int count, double[] outputs)
    {
        var features = _background.Features.Count;
        var values = rows.Length == count * features ? rows : rows[..(count * features)];
        var request = new PreparedRequest([new TensorData(TensorElementType.Float, [count, features], values)], count, "", 0, _wanted);
        var results = _model.Run([request]).Outputs[0];
        var width = _widths.Sum();
        var offset = 0;
        for (var i = 0; i < _outputs.Count; i++)
        {
            // The explained outputs are FP32 or FP64 (ExplainedOutputs); FP32 widens exactly.
            var data = results[i].Tensor.Values;
            var widened = data as double[] ?? Array.ConvertAll((float[])data, v => (double)v);
            for (var r = 0; r < count; r++)
            {
                widened.AsSpan(r * _widths[i], _widths[i]).CopyTo(outputs.AsSpan(r * width + offset, _widths[i]));
            }

            offset += _widths[i];
        }
    }

    private Explanation ToExplanation(ExplainedRecord record)
    {
        var outputs = new List<OutputAttributions>(record.Values.Length);
        var position = 0;
        for (var i = 0; i < _outputs.Count; i++)
        {
            var name = _model.Outputs[_outputs[i]].Name;
            var labels = _model.Training?.ClassLabels is { } classes && classes.Count == _widths[i] && _widths[i] > 1 ? classes : null;
            for (var k = 0; k < _widths[i]; k++, position++)
            {
                outputs.Add(new OutputAttributions
                {
                    Output = name,
                    Index = k,
                    Label = labels?[k],
                    BaseValue = record.BaseValues[position],
                    Value = record.Values[position],
                    Attributions = record.Attributions[position],
                });
            }
        }

        return new Explanation
        {
            Exact = _explainer.Coalitions.Exact,
            Coalitions = _explainer.Coalitions.Count,
            BackgroundRows = _background.Rows.Count,
            Features = _background.Features,
            Outputs = outputs,
        };
    }
}
