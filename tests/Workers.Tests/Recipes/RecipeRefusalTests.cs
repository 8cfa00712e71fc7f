using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime;
using static AIaaS.Queue.Workers.Tests.Recipes.TextRecipeTests;

namespace AIaaS.Queue.Workers.Tests.Recipes;

/// <summary>What a recipe refuses, with the reason: jobs that do not fit it, and recipes that do not fit their model
/// (refused when the version loads, so that its jobs fail with the reason).</summary>
public sealed class RecipeRefusalTests
{
    private static readonly InputLimits Limits = new(1_000_000, 1 << 20);
    private static readonly ModelRecipe Embedding = new() { Kind = RecipeKinds.TextEmbedding };

    private static string? Refusal(LoadedModel model, SubmitPredictJob job)
    {
        var (request, error) = RequestPreparer.Prepare(model, job, Limits);
        Assert.Null(request);
        return error;
    }

    [Fact]
    public void TextToAModelWithoutARecipeIsRefused()
    {
        using var model = Encoder(recipe: null);

        Assert.Equal("Model 'encoder' v1 has no recipe, so it takes tensors only (Features or Inputs); Text needs a version registered " +
            "with a recipe (text-embedding, text-classification, image-classification).", Refusal(model, Job("hello")));
    }

    [Fact]
    public void AnImageToATextModelIsRefused()
    {
        using var model = Encoder(Embedding);

        Assert.Equal("Model 'encoder' v1 takes text (its recipe is text-embedding), not an image.", Refusal(model, Job(image: "AAAA")));
    }

    [Fact]
    public void TextBesideTensorsOrBesideAnImageIsRefused()
    {
        using var model = Encoder(Embedding);

        Assert.Equal("Give either Text or tensors (Features or Inputs), not both.", Refusal(model, Job("hello") with { Features = [1f] }));
        Assert.Equal("Give either Text or Image, not both.", Refusal(model, Job("hello", image: "AAAA")));
    }

    [Fact]
    public void EmptyTextTooLargeTextAndUnknownOutputsAreRefused()
    {
        using var model = Encoder(Embedding);

        Assert.Equal("Text is empty; give the text to encode.", Refusal(model, Job(" ")));
        Assert.Equal("The text is 12 bytes (UTF-8); at most 10 are accepted.",
            RequestPreparer.Prepare(model, Job("hello world!"), new InputLimits(1000, 10)).Error);
        Assert.StartsWith("Model 'encoder' answers embedding, tokens, truncated for its text-embedding recipe; there is no output 'logits'.",
            Refusal(model, Job("hello") with { Outputs = [new RequestedOutput { Name = "logits" }] }), StringComparison.Ordinal);
    }

    [Fact]
    public void AJobWithNoInputToARecipeModelIsToldToGiveText()
    {
        using var model = Encoder(Embedding);

        Assert.StartsWith("No input given: model 'encoder' takes Text (its recipe is text-embedding)", Refusal(model, Job()), StringComparison.Ordinal);
    }

    [Fact]
    public void ARecipeThatDoesNotFitItsModelFailsTheLoadWithTheReason()
    {
        static string Load(ModelRecipe recipe, string? vocabulary = TextEncoderTests.Vocabulary) =>
            Assert.Throws<ModelNotSupportedException>(() => Encoder(recipe, vocabulary)).Message;

        Assert.Contains("no vocabulary is stored with it", Load(Embedding, vocabulary: null), StringComparison.Ordinal);
        Assert.Contains("pooling 'max' is not 'mean' or 'cls'", Load(Embedding with { Pooling = "max" }), StringComparison.Ordinal);
        Assert.Contains("it has no output 'pooled'", Load(Embedding with { Output = "pooled" }), StringComparison.Ordinal);
        Assert.Contains("maxTokens is 1; a record needs at least 2 tokens", Load(Embedding with { MaxTokens = 1 }), StringComparison.Ordinal);
        Assert.Contains("has a recipe of kind 'audio'", Load(new ModelRecipe { Kind = "audio" }), StringComparison.Ordinal);
        var classification = new ModelRecipe { Kind = RecipeKinds.TextClassification, Output = "logits" };
        Assert.Contains("it names no labels", Load(classification), StringComparison.Ordinal);
        Assert.Contains("has 3 classes per record; the recipe names 2 labels", Load(classification with { Labels = ["a", "b"] }), StringComparison.Ordinal);
        Assert.Contains("topK is 0", Load(classification with { Labels = ["a", "b", "c"], TopK = 0 }), StringComparison.Ordinal);
    }

    [Fact]
    public void ATextRecipeOnAModelWithOtherInputsFailsTheLoad()
    {
        var error = Assert.Throws<ModelNotSupportedException>(() => new LoadedModel("mixed", 2, new InferenceSession(OnnxGraphs.IdsAndFeatures()), "cpu",
            new BatchingSettings(), Embedding, TextEncoderTests.Vocabulary));

        Assert.Equal("Model 'mixed' v2 cannot take its text-embedding recipe: input 'ids' is not one a text recipe fills " +
            "(input_ids, attention_mask, token_type_ids).", error.Message);
    }
}
