using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Recipes;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;
using static AIaaS.Queue.Workers.Tests.Recipes.TextRecipeTests;

namespace AIaaS.Queue.Workers.Tests.Recipes;

/// <summary>Image recipes in the worker's model path, on a stand-in classifier whose logits are the channel means.</summary>
public sealed class ImageRecipeTests
{
    private static readonly InputLimits Limits = new(1_000_000, 1 << 20);
    private static readonly ModelRecipe Recipe = new()
    {
        Kind = RecipeKinds.ImageClassification, Labels = ["red", "green", "blue"], Width = 8, Height = 4, Mean = [0, 0, 0], Std = [1, 1, 1],
    };

    private static LoadedModel Classifier(ModelRecipe recipe) =>
        new("colours", 1, new InferenceSession(OnnxGraphs.ChannelMeans()), "cpu", new BatchingSettings { MaxBatchSize = 4 }, recipe);

    internal static string Png(SKColor colour, int width = 16, int height = 8, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
    {
        using var bitmap = new SKBitmap(width, height);
        bitmap.Erase(colour);
        using var data = bitmap.Encode(format, 90);
        return Convert.ToBase64String(data.ToArray());
    }

    [Fact]
    public void ImagesBatchTogetherAndEachGetsItsLabelsBestFirst()
    {
        using var model = Classifier(Recipe with { TopK = 2 });
        var requests = new[] { SKColors.Red, SKColors.Blue }.Select(c => RequestPreparer.Prepare(model, Job(image: Png(c)), Limits).Request!).ToArray();
        Assert.Equal(requests[0].GroupKey, requests[1].GroupKey);

        var (outputs, _) = model.Run(requests);
        var red = model.Answer(requests[0], outputs[0]);
        var blue = model.Answer(requests[1], outputs[1]);

        Assert.Equal(["label", "labels", "scores"], red.Select(a => a.Name));
        Assert.Equal(["red"], (string[])red[0].Tensor.Values);
        Assert.Equal(["blue"], (string[])blue[0].Tensor.Values);
        // Channel means (1, 0, 0): softmax gives e / (e + 2) to red, 1 / (e + 2) to each other, the lower index first on a tie.
        Assert.Equal(["red", "green"], (string[])red[1].Tensor.Values);
        var scores = (float[])red[2].Tensor.Values;
        Assert.Equal(Math.E / (Math.E + 2), scores[0], 1e-6);
        Assert.Equal(1 / (Math.E + 2), scores[1], 1e-6);
    }

    [Fact]
    public void BadImagesAreRefusedWithTheirReason()
    {
        using var model = Classifier(Recipe with { MaxPixels = 100 });

        Assert.Equal("The image is not valid base64.", RequestPreparer.Prepare(model, Job(image: "not base64!"), Limits).Error);
        Assert.StartsWith("The image (3 bytes) could not be decoded", RequestPreparer.Prepare(model, Job(image: "AAAA"), Limits).Error, StringComparison.Ordinal);
        Assert.Equal("The image is 16x8, 128 pixels; at most 100 are accepted.", RequestPreparer.Prepare(model, Job(image: Png(SKColors.Red)), Limits).Error);
        Assert.Equal("Model 'colours' v1 takes an image (its recipe is image-classification), not text.", RequestPreparer.Prepare(model, Job("hello"), Limits).Error);
        Assert.Equal("Model 'colours' v1 takes 8x4 images, 96 input values each; at most 50 are accepted.",
            RequestPreparer.Prepare(model, Job(image: Png(SKColors.Red)), new InputLimits(50, 1 << 20)).Error);
    }

    [Fact]
    public void AnImageRecipeThatDoesNotFitItsModelFailsTheLoad()
    {
        static string Load(ModelRecipe recipe) => Assert.Throws<ModelNotSupportedException>(() => Classifier(recipe)).Message;

        Assert.Contains("has a dynamic width; the recipe must give it", Load(Recipe with { Width = null }), StringComparison.Ordinal);
        Assert.Contains("resize 'zoom' is not crop, pad or stretch", Load(Recipe with { Resize = "zoom" }), StringComparison.Ordinal);
        Assert.Contains("mean and std give one value per channel", Load(Recipe with { Mean = [0.5f] }), StringComparison.Ordinal);
        Assert.Contains("the recipe names 2 labels", Load(Recipe with { Labels = ["a", "b"] }), StringComparison.Ordinal);
        var text = Assert.Throws<ModelNotSupportedException>(() => Encoder(Recipe)).Message;
        Assert.Contains("an image recipe fills one FP32 input [batch, 3, height, width]", text, StringComparison.Ordinal);
    }
}
