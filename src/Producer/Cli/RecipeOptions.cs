using System.CommandLine;
using System.Globalization;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Cli;

/// <summary>The recipe options of <c>aiaas models register</c>, read into a <see cref="ModelRecipe"/>; the server checks the
/// recipe against the model, so only what the command line itself can get wrong is checked here.</summary>
internal sealed class RecipeOptions
{
    private readonly Option<string> _kind = new("--recipe") { Description = $"register with a recipe: {string.Join(", ", RecipeKinds.All)}" };
    private readonly Option<FileInfo> _vocab = new("--vocab") { Description = "text recipes: the model's WordPiece vocab.txt" };
    private readonly Option<FileInfo> _labels = new("--labels") { Description = "classification recipes: labels.txt, one label per line in the order of the model's outputs" };
    private readonly Option<string> _pooling = new("--pooling") { Description = "text-embedding: mean (default) or cls" };
    private readonly Option<bool> _normalize = new("--normalize") { Description = "text-embedding: scale embeddings to unit length" };
    private readonly Option<int?> _maxTokens = new("--max-tokens") { Description = "text recipes: tokens per text, [CLS] and [SEP] included" };
    private readonly Option<bool?> _lowercase = new("--lowercase") { Description = "text recipes: lower-case text first, true (default) or false" };
    private readonly Option<bool?> _truncate = new("--truncate") { Description = "text recipes: cut longer text (true, default) or fail its job (false)" };
    private readonly Option<string> _prefix = new("--prefix") { Description = "text recipes: prepended to every text, such as \"query: \"" };
    private readonly Option<string> _output = new("--recipe-output") { Description = "the model output the recipe reads (hidden states or logits)" };
    private readonly Option<bool> _multiLabel = new("--multi-label") { Description = "text-classification: independent labels (sigmoid)" };
    private readonly Option<bool> _probabilities = new("--probabilities") { Description = "classification: the model's output is a softmax or sigmoid already; take its values as the scores" };
    private readonly Option<int?> _topK = new("--top-k") { Description = "classification: how many of the best labels to answer" };
    private readonly Option<int?> _width = new("--width") { Description = "image-classification: input width in pixels" };
    private readonly Option<int?> _height = new("--height") { Description = "image-classification: input height in pixels" };
    private readonly Option<string> _resize = new("--resize") { Description = "image-classification: crop (default), pad or stretch" };
    private readonly Option<string> _mean = new("--mean") { Description = "image-classification: per-channel mean, RGB: 0.485,0.456,0.406" };
    private readonly Option<string> _std = new("--std") { Description = "image-classification: per-channel std, RGB: 0.229,0.224,0.225" };
    private readonly Option<bool> _bgr = new("--bgr") { Description = "image-classification: feed channels as BGR" };

    /// <summary>Every option but <c>--recipe</c>: the recipe's settings and files.</summary>
    private Option[] Settings =>
        [_vocab, _labels, _pooling, _normalize, _maxTokens, _lowercase, _truncate, _prefix, _output, _multiLabel, _probabilities, _topK, _width, _height, _resize, _mean, _std, _bgr];

    public void AddTo(Command command)
    {
        command.Options.Add(_kind);
        foreach (var option in Settings)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The recipe (null without <c>--recipe</c>) and the vocabulary file to send, or what is wrong with the options.</summary>
    public async Task<(ModelRecipe? Recipe, FileInfo? Vocabulary, string? Problem)> ReadAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var kind = parse.GetValue(_kind);
        if (kind is null)
        {
            var settings = Settings;
            return parse.CommandResult.Children.OfType<System.CommandLine.Parsing.OptionResult>().Any(o => !o.Implicit && settings.Contains(o.Option))
                ? (null, null, "The recipe options (--vocab, --labels, --pooling, --width...) go with --recipe KIND.")
                : (null, null, null);
        }

        var (mean, meanProblem) = ParseFloats(parse.GetValue(_mean), "--mean");
        var (std, stdProblem) = ParseFloats(parse.GetValue(_std), "--std");
        if ((meanProblem ?? stdProblem) is { } problem)
        {
            return (null, null, problem);
        }

        var labels = parse.GetValue(_labels) is { } file
            ? (await File.ReadAllTextAsync(file.FullName, cancellationToken)).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray()
            : null;
        return (new ModelRecipe
        {
            Kind = kind,
            Lowercase = parse.GetValue(_lowercase),
            MaxTokens = parse.GetValue(_maxTokens),
            Truncate = parse.GetValue(_truncate),
            Prefix = parse.GetValue(_prefix),
            Pooling = parse.GetValue(_pooling),
            Normalize = parse.GetValue(_normalize) ? true : null,
            Output = parse.GetValue(_output),
            Labels = labels,
            MultiLabel = parse.GetValue(_multiLabel) ? true : null,
            Probabilities = parse.GetValue(_probabilities) ? true : null,
            TopK = parse.GetValue(_topK),
            Width = parse.GetValue(_width),
            Height = parse.GetValue(_height),
            Resize = parse.GetValue(_resize),
            Mean = mean,
            Std = std,
            Bgr = parse.GetValue(_bgr) ? true : null,
        }, parse.GetValue(_vocab), null);
    }

    private static (float[]? Values, string? Problem) ParseFloats(string? text, string option)
    {
        if (text is null)
        {
            return (null, null);
        }

        var values = new List<float>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!float.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                return (null, $"{option}: '{part}' is not a number.");
            }

            values.Add(value);
        }

        return ([.. values], null);
    }
}
