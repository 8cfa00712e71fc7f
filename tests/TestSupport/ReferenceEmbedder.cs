using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;

namespace AIaaS.Queue.TestSupport;

/// <summary>
/// A sentence embedding computed in the test process, independently of the system: Microsoft.ML.Tokenizers' BERT
/// tokenizer over the model's vocab.txt, ONNX Runtime run directly, mean pooling over the real tokens and optional L2
/// normalization, as sentence-transformers does for all-MiniLM-L6-v2. The reference the system's embeddings are compared
/// with, and the benchmark's direct in-process baseline.
/// </summary>
public sealed class ReferenceEmbedder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;
    private readonly int _maxTokens;

    public ReferenceEmbedder(string modelPath, string vocabularyPath, bool lowercase = true, int maxTokens = 512, int intraOpThreads = 0)
    {
        using var options = new SessionOptions();
        if (intraOpThreads > 0)
        {
            options.IntraOpNumThreads = intraOpThreads;
        }

        _session = new InferenceSession(modelPath, options);
        // Uncased BERT vocabularies were made from lower-cased text with accents stripped: both, or neither.
        _tokenizer = BertTokenizer.Create(vocabularyPath, new BertOptions { LowerCaseBeforeTokenization = lowercase, RemoveNonSpacingMarks = lowercase });
        _maxTokens = maxTokens;
    }

    public static ReferenceEmbedder MiniLm(int intraOpThreads = 0) =>
        new(RealModels.MiniLm.Model, RealModels.MiniLm.Vocabulary, intraOpThreads: intraOpThreads);

    /// <summary>[CLS] … [SEP] ids, cut to the token limit.</summary>
    public IReadOnlyList<int> Tokenize(string text) => _tokenizer.EncodeToIds(text, _maxTokens, addSpecialTokens: true, out _, out _);

    public float[] Embed(string text, bool normalize = true) => EmbedBatch([text], normalize)[0];

    /// <summary>One model call for all <paramref name="texts"/>, padded to the longest with attention mask 0, each pooled
    /// over its own tokens only.</summary>
    public float[][] EmbedBatch(IReadOnlyList<string> texts, bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var ids = texts.Select(Tokenize).ToArray();
        var rows = ids.Length;
        var length = ids.Max(i => i.Count);
        var inputIds = new long[rows * length];
        var mask = new long[rows * length];
        for (var r = 0; r < rows; r++)
        {
            for (var t = 0; t < ids[r].Count; t++)
            {
                inputIds[r * length + t] = ids[r][t];
                mask[r * length + t] = 1;
            }
        }

        long[] shape = [rows, length];
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            foreach (var name in _session.InputNames)
            {
                var values = name switch
                {
                    "input_ids" => inputIds,
                    "attention_mask" => mask,
                    "token_type_ids" => new long[rows * length],
                    _ => throw new InvalidOperationException($"The reference embedder does not know how to fill input '{name}'."),
                };
                inputs[name] = OrtValue.CreateTensorValueFromMemory(values, shape);
            }

            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, inputs, [_session.OutputNames[0]]);
            var hidden = outputs[0].GetTensorDataAsSpan<float>();
            var dim = (int)outputs[0].GetTensorTypeAndShape().Shape[2];
            var embeddings = new float[rows][];
            for (var r = 0; r < rows; r++)
            {
                embeddings[r] = MeanPool(hidden.Slice(r * length * dim, length * dim), ids[r].Count, dim, normalize);
            }

            return embeddings;
        }
        finally
        {
            foreach (var value in inputs.Values)
            {
                value.Dispose();
            }
        }
    }

    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, normA = 0, normB = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            normA += (double)a[i] * a[i];
            normB += (double)b[i] * b[i];
        }

        return dot / Math.Sqrt(normA * normB);
    }

    private static float[] MeanPool(ReadOnlySpan<float> hidden, int tokens, int dim, bool normalize)
    {
        var pooled = new float[dim];
        for (var t = 0; t < tokens; t++)
        {
            for (var d = 0; d < dim; d++)
            {
                pooled[d] += hidden[t * dim + d];
            }
        }

        double norm = 0;
        for (var d = 0; d < dim; d++)
        {
            pooled[d] /= tokens;
            norm += (double)pooled[d] * pooled[d];
        }

        if (normalize && norm > 0)
        {
            var scale = (float)(1 / Math.Sqrt(norm));
            for (var d = 0; d < dim; d++)
            {
                pooled[d] *= scale;
            }
        }

        return pooled;
    }

    public void Dispose() => _session.Dispose();
}
