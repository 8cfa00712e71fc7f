using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The real pretrained models that tests and benchmarks serve (<see cref="RealModels"/>, from registry packages) open in
/// ONNX Runtime with the metadata that serving them relies on, exactly as ORT reports it, and run. Padding and cut-back
/// logic keys on these names: where a model's output axis shares the symbolic name of an input axis (MiniLM's
/// <c>batch</c>, <c>sequence</c>) the link is explicit; where the exporter named every dynamic axis apart (PaddleOCR's
/// <c>p2o.DynamicDimension.N</c>, MiniLM's pooler output) it is not.
/// </summary>
public sealed class RealModelFilesTests
{
    private const TensorElementType Float = TensorElementType.Float;
    private const TensorElementType Int64 = TensorElementType.Int64;

    /// <summary>The upload's load check (issue 13, finding 2) refuses what would fold into too much, never a real model.</summary>
    [Fact]
    public void RealModelsPassTheLoadCheckAndTheUploadInspection()
    {
        foreach (var model in new[] { RealModels.MiniLm.Model, RealModels.ResNet18, RealModels.OcrDirectionClassifier, RealModels.OcrDetector })
        {
            Assert.Null(AIaaS.Queue.Onnx.OnnxLoadCheck.Problem(model, AIaaS.Queue.Onnx.OnnxModelInspector.DefaultMaxFoldedBytes));
            Assert.NotEmpty(AIaaS.Queue.Onnx.OnnxModelInspector.Inspect(model).Outputs);
        }
    }

    [Fact]
    public void MiniLmInputsAndHiddenStateShareTheBatchAndSequenceAxes()
    {
        using var session = new InferenceSession(RealModels.MiniLm.Model);

        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], session.InputMetadata.Keys);
        foreach (var input in session.InputMetadata.Values)
        {
            AssertTensor(input, Int64, [-1, -1], ["batch", "sequence"]);
        }

        Assert.Equal(["last_hidden_state", "924"], session.OutputMetadata.Keys);
        AssertTensor(session.OutputMetadata["last_hidden_state"], Float, [-1, -1, 384], ["batch", "sequence", ""]);
        // The pooler output's batch axis has a name of its own: nothing in the metadata ties it to the inputs' batch.
        AssertTensor(session.OutputMetadata["924"], Float, [-1, 384], ["Tanh924_dim_0", ""]);
    }

    [Fact]
    public void MiniLmEmbedsATokenizedSentenceAndIgnoresPaddingMaskedOut()
    {
        var files = RealModels.MiniLm;
        var tokenizer = BertTokenizer.Create(files.Vocabulary);
        Assert.Equal([101, 7592, 2088, 102], tokenizer.EncodeToIds("hello world"));
        using var session = new InferenceSession(files.Model);

        var (shape, hidden) = HiddenState(session, [101, 7592, 2088, 102], padTo: 4);
        Assert.Equal([1, 4, 384], shape);
        Assert.All(hidden, value => Assert.True(float.IsFinite(value)));

        // The same record padded to 9 tokens with attention mask 0: its real positions come back the same.
        var (paddedShape, padded) = HiddenState(session, [101, 7592, 2088, 102], padTo: 9);
        Assert.Equal([1, 9, 384], paddedShape);
        for (var i = 0; i < hidden.Length; i++)
        {
            Assert.Equal(hidden[i], padded[i], 1e-4f);
        }
    }

    /// <summary>The reference the served embeddings are compared with: the embeddings mean something (a paraphrase is nearer
    /// than an unrelated sentence), and padding a batch to its longest text changes no text's embedding.</summary>
    [Fact]
    public void TheReferenceEmbedderGivesMeaningfulEmbeddingsThatPaddingDoesNotChange()
    {
        using var embedder = ReferenceEmbedder.MiniLm();
        string[] texts = ["A man is eating food.", "A man is eating a piece of bread.", "A man is playing a guitar."];

        var alone = texts.Select(t => embedder.Embed(t)).ToArray();
        var batched = embedder.EmbedBatch(texts);

        Assert.Equal([101, 7592, 2088, 102], embedder.Tokenize("Hello world"));
        var (eating, bread, guitar) = (alone[0], alone[1], alone[2]);
        Assert.True(ReferenceEmbedder.Cosine(eating, bread) > ReferenceEmbedder.Cosine(eating, guitar) + 0.2,
            $"{ReferenceEmbedder.Cosine(eating, bread)} vs {ReferenceEmbedder.Cosine(eating, guitar)}");
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(384, batched[i].Length);
            Assert.True(ReferenceEmbedder.Cosine(alone[i], batched[i]) > 0.99999, $"text {i}: {ReferenceEmbedder.Cosine(alone[i], batched[i])}");
        }
    }

    [Fact]
    public void ResNet18TakesExactlyOneImageOfFixedSize()
    {
        using var session = new InferenceSession(RealModels.ResNet18);

        Assert.Equal(["Input247"], session.InputMetadata.Keys);
        AssertTensor(session.InputMetadata["Input247"], Float, [1, 3, 224, 224], ["", "", "", ""]);
        Assert.Equal(["Pooling395_Output_0"], session.OutputMetadata.Keys);
        AssertTensor(session.OutputMetadata["Pooling395_Output_0"], Float, [1, 512, 1, 1], ["", "", "", ""]);

        var (shape, features) = RunOne(session, RandomImage(1, 224, 224, seed: 1), [1, 3, 224, 224]);
        Assert.Equal([1, 512, 1, 1], shape);
        Assert.All(features, value => Assert.True(float.IsFinite(value)));
    }

    [Fact]
    public void OcrDirectionClassifierTakesImagesOfAnySizeAndNamesEveryDynamicAxisApart()
    {
        using var session = new InferenceSession(RealModels.OcrDirectionClassifier);

        Assert.Equal(["x"], session.InputMetadata.Keys);
        AssertTensor(session.InputMetadata["x"], Float, [-1, 3, -1, -1],
            ["p2o.DynamicDimension.0", "", "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"]);
        Assert.Equal(["softmax_0.tmp_0"], session.OutputMetadata.Keys);
        AssertTensor(session.OutputMetadata["softmax_0.tmp_0"], Float, [-1, 2], ["p2o.DynamicDimension.3", ""]);

        foreach (var (batch, height, width) in new[] { (1, 48, 192), (3, 32, 100) })
        {
            var (shape, probabilities) = RunOne(session, RandomImage(batch, height, width, seed: batch), [batch, 3, height, width]);
            Assert.Equal([batch, 2], shape);
            for (var row = 0; row < batch; row++)
            {
                Assert.Equal(1f, probabilities[row * 2] + probabilities[(row * 2) + 1], 1e-4f);
            }
        }
    }

    [Fact]
    public void OcrDetectorMapsAnImageToAProbabilityMapOfItsSize()
    {
        using var session = new InferenceSession(RealModels.OcrDetector);

        Assert.Equal(["x"], session.InputMetadata.Keys);
        AssertTensor(session.InputMetadata["x"], Float, [-1, 3, -1, -1],
            ["p2o.DynamicDimension.0", "", "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"]);
        Assert.Equal(["sigmoid_0.tmp_0"], session.OutputMetadata.Keys);
        AssertTensor(session.OutputMetadata["sigmoid_0.tmp_0"], Float, [-1, 1, -1, -1],
            ["p2o.DynamicDimension.3", "", "p2o.DynamicDimension.4", "p2o.DynamicDimension.5"]);

        var (shape, map) = RunOne(session, RandomImage(1, 64, 96, seed: 2), [1, 3, 64, 96]);
        Assert.Equal([1, 1, 64, 96], shape);
        Assert.All(map, p => Assert.InRange(p, 0f, 1f));
    }

    [Fact]
    public async Task RealModelsPreparesEachModelOnceForCallersOnManyThreads()
    {
        var calls = Enumerable.Range(0, 8).Select(i => Task.Run(() => i % 2 == 0 ? RealModels.MiniLm.Model : RealModels.OcrDirectionClassifier));
        var paths = await Task.WhenAll(calls);

        Assert.Equal(2, paths.Distinct().Count());
        Assert.All(paths, path => Assert.StartsWith(RealModels.CacheDirectory, path, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(RealModels.CacheDirectory, "*.tmp", SearchOption.AllDirectories));
    }

    private static void AssertTensor(NodeMetadata node, TensorElementType elementType, int[] dimensions, string[] symbolicDimensions)
    {
        Assert.True(node.IsTensor);
        Assert.Equal(elementType, node.ElementDataType);
        Assert.Equal(dimensions, node.Dimensions);
        Assert.Equal(symbolicDimensions, node.SymbolicDimensions);
    }

    /// <summary>MiniLM's last hidden state for one record, padded with token 0 and attention mask 0 to <paramref name="padTo"/>;
    /// the values of the record's own positions only.</summary>
    private static (long[] Shape, float[] Values) HiddenState(InferenceSession session, long[] ids, int padTo)
    {
        var inputIds = new long[padTo];
        var mask = new long[padTo];
        ids.CopyTo(inputIds, 0);
        Array.Fill(mask, 1L, 0, ids.Length);
        long[] shape = [1, padTo];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(inputIds, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[padTo], shape);
        using var options = new RunOptions();
        using var results = session.Run(options, ["input_ids", "attention_mask", "token_type_ids"], [idsValue, maskValue, typesValue], ["last_hidden_state"]);
        var hidden = results[0];
        return (hidden.GetTensorTypeAndShape().Shape, hidden.GetTensorDataAsSpan<float>()[..(ids.Length * 384)].ToArray());
    }

    private static (long[] Shape, float[] Values) RunOne(InferenceSession session, float[] input, long[] shape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var options = new RunOptions();
        using var results = session.Run(options, session.InputNames, [value], session.OutputNames);
        return (results[0].GetTensorTypeAndShape().Shape, results[0].GetTensorDataAsSpan<float>().ToArray());
    }

    private static float[] RandomImage(int batch, int height, int width, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, batch * 3 * height * width).Select(_ => (float)((random.NextDouble() * 2) - 1))];
    }
}
