using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Workers.Inference;
using AIaaS.Queue.Workers.Recipes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Tests.Recipes;

/// <summary>
/// Text recipes end to end in the worker's model path, on a stand-in encoder whose hidden state for id r is (r, r + 0.1,
/// r + 0.2): texts of different lengths share a padded model call and each answer pools only its own tokens.
/// </summary>
public sealed class TextRecipeTests
{
    private const int Width = 3;
    private static readonly InputLimits Limits = new(1_000_000, 1 << 20);

    internal static LoadedModel Encoder(ModelRecipe? recipe, string? vocabulary = TextEncoderTests.Vocabulary, BatchingSettings? batching = null) =>
        new("encoder", 1, new InferenceSession(OnnxGraphs.TextEncoder(vocabulary: 16, width: Width)), "cpu",
            batching ?? new BatchingSettings { MaxBatchSize = 8 }, recipe, vocabulary);

    internal static SubmitPredictJob Job(string? text = null, string? image = null) =>
        new() { JobId = Guid.NewGuid(), Model = "encoder", SubmittedAt = DateTimeOffset.UtcNow, Text = text, Image = image };

    private static PreparedRequest Prepare(LoadedModel model, SubmitPredictJob job)
    {
        var (request, error) = RequestPreparer.Prepare(model, job, Limits);
        Assert.Null(error);
        return request!;
    }

    private static T[] Values<T>(NamedTensor[] answer, string name) => (T[])answer.Single(a => a.Name == name).Tensor.Values;

    [Fact]
    public void ATextRecipeImpliesPaddingOfItsInputsOnTheSequenceAxis()
    {
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextEmbedding });

        Assert.True(model.IsPadded);
        Assert.True(model.GroupByLength);
        Assert.All(model.Inputs, i => Assert.Equal([false, true], i.Padded));
        Assert.Equal(512, ((TextRunner)model.Recipe!).MaxTokens);
    }

    [Fact]
    public void TheRegistrationsPaddingWinsAndItsBoundIsTheDefaultMaxTokens()
    {
        var batching = new BatchingSettings
        {
            MaxBatchSize = 8,
            Inputs = new Dictionary<string, InputBatching> { ["input_ids"] = new() { PadAxes = [1], PadValue = 0, MaxShape = [-1, 6] } },
        };
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextEmbedding }, batching: batching);

        Assert.Equal(6, ((TextRunner)model.Recipe!).MaxTokens);
        Assert.Equal([-1L, 6L], model.Inputs[0].MaxShape);
        Assert.Throws<ModelNotSupportedException>(() => Encoder(new ModelRecipe { Kind = RecipeKinds.TextEmbedding, MaxTokens = 7 }, batching: batching));
    }

    [Fact]
    public void TextsOfDifferentLengthsShareOnePaddedCallAndEachPoolsOnlyItsOwnTokens()
    {
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextEmbedding });
        string[] texts = ["hello", "hello world world playing"];
        var requests = texts.Select(t => Prepare(model, Job(t))).ToArray();
        Assert.Equal([3L, 7L], requests.Select(r => r.Length));
        Assert.All(requests, r => Assert.Equal(requests[0].GroupKey, r.GroupKey));

        var (outputs, efficiency) = model.Run(requests);

        Assert.Equal(10.0 / 14, efficiency, 1e-9);
        // "hello": ids 2, 5, 3 → mean 10/3; the second: 2, 5, 6, 6, 10, 11, 3 → mean 43/7.
        double[] means = [10.0 / 3, 43.0 / 7];
        for (var r = 0; r < requests.Length; r++)
        {
            Assert.Equal([1L, requests[r].Length, Width], outputs[r].Single().Tensor.Shape);
            var answer = model.Answer(requests[r], outputs[r]);
            Assert.Equal(["embedding", "tokens", "truncated"], answer.Select(a => a.Name));
            var embedding = Values<float>(answer, "embedding");
            for (var d = 0; d < Width; d++)
            {
                Assert.Equal(means[r] + (d / 10.0), embedding[d], 1e-5);
            }

            Assert.Equal([requests[r].Length], Values<long>(answer, "tokens"));
            Assert.Equal([false], Values<bool>(answer, "truncated"));
        }
    }

    [Fact]
    public void ClsPoolingTakesTheFirstTokenAndNormalizingGivesUnitLength()
    {
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextEmbedding, Pooling = RecipePooling.Cls, Normalize = true, MaxTokens = 3 });
        var request = Prepare(model, Job("hello world"));

        var answer = model.Answer(request, model.Run([request]).Outputs[0]);

        // [CLS] is id 2: (2, 2.1, 2.2) scaled to unit length; the text was cut to [CLS] hello [SEP].
        var norm = Math.Sqrt((2 * 2) + (2.1 * 2.1) + (2.2 * 2.2));
        var embedding = Values<float>(answer, "embedding");
        Assert.Equal(2 / norm, embedding[0], 1e-5);
        Assert.Equal(2.1 / norm, embedding[1], 1e-5);
        Assert.Equal(2.2 / norm, embedding[2], 1e-5);
        Assert.Equal([3L], Values<long>(answer, "tokens"));
        Assert.Equal([true], Values<bool>(answer, "truncated"));
    }

    [Fact]
    public void AJobGetsOnlyTheRecipeOutputsItAsksFor()
    {
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextEmbedding });
        var request = Prepare(model, Job("hello") with { Outputs = [new RequestedOutput { Name = "tokens" }] });

        var answer = model.Answer(request, model.Run([request]).Outputs[0]);

        Assert.Equal(["tokens"], answer.Select(a => a.Name));
    }

    [Fact]
    public void TextClassificationAnswersLabelsBestFirstWithSoftmaxScores()
    {
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextClassification, Output = "logits", Labels = ["a", "b", "c"], TopK = 2 });
        var request = Prepare(model, Job("hello"));

        var answer = model.Answer(request, model.Run([request]).Outputs[0]);

        // Logits (10/3, 10/3 + 0.1, 10/3 + 0.2): softmax of (0, 0.1, 0.2), best first.
        var e = new[] { 1, Math.Exp(0.1), Math.Exp(0.2) };
        Assert.Equal(["c"], Values<string>(answer, "label"));
        Assert.Equal(["c", "b"], Values<string>(answer, "labels"));
        var scores = Values<float>(answer, "scores");
        Assert.Equal(e[2] / e.Sum(), scores[0], 1e-6);
        Assert.Equal(e[1] / e.Sum(), scores[1], 1e-6);
        Assert.Equal([1L], answer.Single(a => a.Name == "label").Tensor.Shape);
        Assert.Equal([2L], answer.Single(a => a.Name == "scores").Tensor.Shape);
    }

    [Fact]
    public void MultiLabelClassificationScoresEachLabelBySigmoid()
    {
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextClassification, Output = "logits", Labels = ["a", "b", "c"], MultiLabel = true });
        var request = Prepare(model, Job("hello"));

        var scores = Values<float>(model.Answer(request, model.Run([request]).Outputs[0]), "scores");

        Assert.Equal(1 / (1 + Math.Exp(-((10.0 / 3) + 0.2))), scores[0], 1e-6);
        Assert.Equal(3, scores.Length);
    }
}
