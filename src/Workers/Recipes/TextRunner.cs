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
