using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>text-embedding: hidden states pooled (mean over the real tokens, or the first token) into <c>embedding</c>
/// (FP32 [dim]), optionally scaled to unit length. An output already pooled (<c>[batch, dim]</c>) is taken as it is.</summary>
internal sealed class TextEmbeddingRunner(LoadedModel model, ModelRecipe recipe, TextInputs inputs, string? vocabulary)
    : TextRunner(model, recipe, inputs, vocabulary, HiddenStates(model, recipe), ["embedding", "tokens", "truncated"])
{
    private readonly bool _cls = Pooled(model, recipe);
    private readonly bool _normalize = recipe.Normalize ?? false;

    protected override NamedTensor[] Answer(TensorData output, RecipeRecord record)
    {
        var hidden = (float[])output.Values;
        var dim = (int)output.Shape[^1];
        var embedding = output.Shape.Length == 2 ? hidden.AsSpan(0, dim).ToArray()
            : _cls ? Pooling.Cls(hidden, dim)
            : Pooling.Mean(hidden, dim, record.Tokens);
        if (_normalize)
        {
            Pooling.L2Normalize(embedding);
        }

        return WithTokens(record, new NamedTensor("embedding", new TensorData(TensorElementType.Float, [dim], embedding)));
    }

    /// <summary>The recipe's output, else <c>last_hidden_state</c>, else the first output of rank 3; FP32 [batch, sequence,
    /// dim] or [batch, dim].</summary>
    private static int HiddenStates(LoadedModel model, ModelRecipe recipe)
    {
        var byName = model.Outputs.ToList().FindIndex(o => o.Name == "last_hidden_state");
        var fallback = byName >= 0 ? byName : model.Outputs.ToList().FindIndex(o => o.Dims.Length == 3);
        var index = RecipeRunner.OutputIndex(model, recipe.Output, recipe.Kind, Math.Max(0, fallback));
        var output = model.Outputs[index];
        if (output.Type != TensorElementType.Float || output.Dims.Length is not (2 or 3) || (recipe.Output is null && fallback < 0))
        {
            throw new ModelNotSupportedException($"Model '{model.Name}' v{model.Version} cannot take its {recipe.Kind} recipe: output '{output.Name}' is " +
                $"{output.Type} {ShapeMath.Text(output.Dims)}; it pools FP32 hidden states [batch, sequence, dim] (or takes [batch, dim] as they are).");
        }

        return index;
    }

    private static bool Pooled(LoadedModel model, ModelRecipe recipe) => (recipe.Pooling ?? RecipePooling.Mean) switch
    {
        RecipePooling.Mean => false,
        RecipePooling.Cls => true,
        var other => throw new ModelNotSupportedException(
            $"Model '{model.Name}' v{model.Version} cannot take its {recipe.Kind} recipe: pooling '{other}' is not '{RecipePooling.Mean}' or '{RecipePooling.Cls}'."),
    };
}
