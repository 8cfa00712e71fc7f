using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// What the text recipes share: the version's tokenizer and the model's text inputs, checked when the version loads, and
/// per record text → ids (<see cref="Encode"/>) → tensors (<see cref="Prepare"/>). Bulk files tokenize when they are
/// split and keep the ids; jobs do both at once. Answers carry <c>tokens</c> (INT64 [1]) and <c>truncated</c> (BOOL [1]).
/// </summary>
internal abstract class TextRunner : RecipeRunner
{
    private const int DefaultMaxTokens = 512;
    private readonly TextInputs _inputs;
    private readonly TextEncoder _encoder;

    protected TextRunner(LoadedModel model, ModelRecipe recipe, TextInputs inputs, string? vocabulary, int output, IReadOnlyList<string> outputNames)
        : base(model, recipe, output, outputNames)
    {
        _inputs = inputs;
        _encoder = CreateEncoder(model, recipe, vocabulary, _inputs.Bound);
    }

    public int MaxTokens => _encoder.MaxTokens;

    /// <summary>The ids of one record's text, whether they were cut, or why the text is refused.</summary>
    public (int[]? Ids, bool Truncated, string? Error) Encode(string text) => _encoder.Encode(text);

    /// <summary>One record from its ids (from <see cref="Encode"/>), ready to join a batch.</summary>
    public PreparedRequest Prepare(int[] ids, bool truncated, IReadOnlyList<string>? outputs = null) =>
        _inputs.Build(ids, new RecipeRecord(ids.Length, truncated, outputs), Wanted);

    protected static NamedTensor[] WithTokens(RecipeRecord record, params NamedTensor[] answer) =>
    [
        .. answer,
        new NamedTensor("tokens", new TensorData(TensorElementType.Int64, [1], new long[] { record.Tokens })),
        new NamedTensor("truncated", new TensorData(TensorElementType.Bool, [1], new[] { record.Truncated })),
    ];

    private static TextEncoder CreateEncoder(LoadedModel model, ModelRecipe recipe, string? vocabulary, long bound)
    {
        string Refuse(string why) => $"Model '{model.Name}' v{model.Version} cannot take its {recipe.Kind} recipe: {why}";
        if (string.IsNullOrWhiteSpace(vocabulary))
        {
            throw new ModelNotSupportedException(Refuse("no vocabulary is stored with it (register the version with its vocab.txt)."));
        }

        var maxTokens = recipe.MaxTokens ?? (bound > 0 ? (int)Math.Min(bound, int.MaxValue) : DefaultMaxTokens);
        if (maxTokens < 2 || (bound > 0 && maxTokens > bound))
        {
            throw new ModelNotSupportedException(Refuse(maxTokens < 2
                ? $"maxTokens is {maxTokens}; a record needs at least 2 tokens ([CLS] and [SEP])."
                : $"maxTokens is {maxTokens}, above the {bound} tokens input 'input_ids' takes."));
        }

        try
        {
            var lowercase = recipe.Lowercase ?? true;
            return new TextEncoder(TextEncoder.CreateTokenizer(vocabulary, lowercase), maxTokens, recipe.Truncate ?? true, recipe.Prefix);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw new ModelNotSupportedException(Refuse($"its vocabulary could not be read as a WordPiece vocabulary: {ex.Message}"), ex);
        }
    }
}

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
