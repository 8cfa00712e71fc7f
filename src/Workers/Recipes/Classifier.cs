using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// The classification recipes' post-processing: one record's logits (every value of its part of the output, one per
/// label) into scores by softmax (or by sigmoid per label for multi-label models), and the best <c>k</c> as
/// <c>label</c> (BYTES [1]), <c>labels</c> (BYTES [k], best first) and <c>scores</c> (FP32 [k], same order).
/// </summary>
internal sealed class Classifier
{
    public static IReadOnlyList<string> OutputNames { get; } = ["label", "labels", "scores"];

    private readonly string[] _labels;
    private readonly bool _multiLabel;
    private readonly bool _probabilities;
    private readonly int _topK;

    private Classifier(int output, string[] labels, bool multiLabel, bool probabilities, int topK)
    {
        OutputIndex = output;
        _labels = labels;
        _multiLabel = multiLabel;
        _probabilities = probabilities;
        _topK = topK;
    }

    /// <summary>The model output holding the logits.</summary>
    public int OutputIndex { get; }

    /// <summary>Checks the recipe's labels against the model's logits output; throws <see cref="ModelNotSupportedException"/>.</summary>
    public static Classifier For(LoadedModel model, ModelRecipe recipe, int defaultTopK)
    {
        string Refuse(string why) => $"Model '{model.Name}' v{model.Version} cannot take its {recipe.Kind} recipe: {why}";
        var output = RecipeRunner.OutputIndex(model, recipe.Output, recipe.Kind, fallback: 0);
        var logits = model.Outputs[output];
        if (recipe.Labels is not { Count: > 0 } labels || labels.Any(string.IsNullOrEmpty))
        {
            throw new ModelNotSupportedException(Refuse("it names no labels (one non-empty name per class, in the order of the model's logits)."));
        }

        if (logits.Type != TensorElementType.Float)
        {
            throw new ModelNotSupportedException(Refuse($"output '{logits.Name}' is {logits.Type}; the logits must be FP32."));
        }

        var classDims = model.BatchMode == BatchMode.None ? logits.Dims : logits.Dims.Skip(1).ToArray();
        if (classDims.All(d => d >= 0) && ShapeMath.Count(classDims) != labels.Count)
        {
            throw new ModelNotSupportedException(Refuse(
                $"output '{logits.Name}' {ShapeMath.Text(logits.Dims)} has {ShapeMath.Count(classDims)} classes per record; the recipe names {labels.Count} labels."));
        }

        if (recipe.TopK is < 1)
        {
            throw new ModelNotSupportedException(Refuse($"topK is {recipe.TopK}; it must be at least 1."));
        }

        var topK = Math.Min(recipe.TopK ?? defaultTopK, labels.Count);
        return new Classifier(output, [.. labels], recipe.MultiLabel ?? false, recipe.Probabilities ?? false, topK);
    }

    /// <summary>The answer for one record's <paramref name="logits"/>; throws <see cref="RecipeException"/> when they are
    /// not one value per label.</summary>
    public NamedTensor[] Answer(TensorData logits)
    {
        var values = (float[])logits.Values;
        if (values.Length != _labels.Length)
        {
            throw new RecipeException($"the model gave {values.Length} logits of shape {ShapeMath.Text(logits.Shape)}; the recipe names {_labels.Length} labels.");
        }

        var scores = _probabilities ? values : _multiLabel ? ClassScores.Sigmoid(values) : ClassScores.Softmax(values);
        var best = ClassScores.TopK(scores, _topK);
        var names = new string[best.Length];
        var kept = new float[best.Length];
        for (var i = 0; i < best.Length; i++)
        {
            names[i] = _labels[best[i]];
            kept[i] = scores[best[i]];
        }

        return
        [
            new NamedTensor("label", new TensorData(TensorElementType.String, [1], new[] { names[0] })),
            new NamedTensor("labels", new TensorData(TensorElementType.String, [names.Length], names)),
            new NamedTensor("scores", new TensorData(TensorElementType.Float, [kept.Length], kept)),
        ];
    }
}
