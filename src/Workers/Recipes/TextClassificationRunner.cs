using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>text-classification: the logits of one text into <c>label</c>, <c>labels</c> and <c>scores</c> (every label
/// unless the recipe says top k), with <c>tokens</c> and <c>truncated</c>.</summary>
internal sealed class TextClassificationRunner : TextRunner
{
    private readonly Classifier _classifier;

    public TextClassificationRunner(LoadedModel model, ModelRecipe recipe, TextInputs inputs, string? vocabulary)
        : this(model, recipe, inputs, vocabulary, Classifier.For(model, recipe, defaultTopK: int.MaxValue))
    {
    }

    private TextClassificationRunner(LoadedModel model, ModelRecipe recipe, TextInputs inputs, string? vocabulary, Classifier classifier)
        : base(model, recipe, inputs, vocabulary, classifier.OutputIndex, [.. Classifier.OutputNames, "tokens", "truncated"]) =>
        _classifier = classifier;

    protected override NamedTensor[] Answer(TensorData output, RecipeRecord record) => WithTokens(record, _classifier.Answer(output));
}
