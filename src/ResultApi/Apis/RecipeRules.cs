using System.Globalization;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using Microsoft.ML.Tokenizers;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// What a recipe (<see cref="ModelRecipe"/>) must satisfy against the model file's own signature and the files sent with it,
/// checked at <c>PUT /v1/models/{name}</c> beside <see cref="ModelRegistrationRules"/>: a recipe the workers could not run
/// (every job failing) is refused at once, with the reason.
/// </summary>
public static class RecipeRules
{
    /// <summary>The input a text recipe writes its token ids into; the only others it can fill.</summary>
    public const string InputIds = "input_ids", AttentionMask = "attention_mask", TokenTypeIds = "token_type_ids";

    /// <summary>The hidden states a text-embedding recipe pools, unless <see cref="ModelRecipe.Output"/> names another.</summary>
    public const string DefaultHiddenStates = "last_hidden_state";

    public const int MinTokens = 2, MaxTokens = 8192, MaxImageSide = 16_384;

    private static readonly string[] SpecialTokens = ["[CLS]", "[SEP]", "[UNK]"];

    /// <summary>Why <paramref name="recipe"/> cannot run on the model, or null when it can. <paramref name="labelsSource"/>
    /// names where the labels came from in the reasons ("labels.txt", "The recipe").</summary>
    public static string? Problem(ModelRecipe recipe, ModelSignature signature, string? vocabulary, BatchingSettings? batching,
        string labelsSource = "The recipe")
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(signature);
        if (!RecipeKinds.All.Contains(recipe.Kind))
        {
            return $"Unknown recipe kind '{recipe.Kind}'; the kinds are {string.Join(", ", RecipeKinds.All)}.";
        }

        return SettingsProblem(recipe)
            ?? (RecipeKinds.TakesText(recipe.Kind) ? TextProblem(recipe, signature, vocabulary, batching) : ImageProblem(recipe, signature, vocabulary))
            ?? (recipe.Kind == RecipeKinds.TextEmbedding ? EmbeddingProblem(recipe, signature) : ClassificationProblem(recipe, signature, labelsSource));
    }

    /// <summary>The output a recipe reads: the hidden states (text-embedding) or the logits (classification); null when the
    /// model has none that fits.</summary>
    public static TensorSpec? OutputOf(ModelRecipe recipe, IReadOnlyList<TensorSpec> outputs)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        ArgumentNullException.ThrowIfNull(outputs);
        if (recipe.Output is { } named)
        {
            return outputs.FirstOrDefault(o => o.Name == named);
        }

        return recipe.Kind == RecipeKinds.TextEmbedding
            ? outputs.FirstOrDefault(o => o.Name == DefaultHiddenStates) ?? outputs.FirstOrDefault(o => o.Shape.Count == 3)
            : outputs.Count > 0 ? outputs[0] : null;
    }

    /// <summary>Reads <c>labels.txt</c>: one label per line, surrounding white space trimmed, blank lines ignored.</summary>
    public static IReadOnlyList<string> ParseLabels(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. text.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0)];
    }

    /// <summary>The values that do not depend on the model: known names, sane numbers.</summary>
    private static string? SettingsProblem(ModelRecipe recipe)
    {
        if (recipe.Pooling is { } pooling && pooling is not (RecipePooling.Mean or RecipePooling.Cls))
        {
            return $"Unknown pooling '{pooling}'; give {RecipePooling.Mean} or {RecipePooling.Cls}.";
        }

        if (recipe.Resize is { } resize && resize is not (RecipeResize.Crop or RecipeResize.Pad or RecipeResize.Stretch))
        {
            return $"Unknown resize '{resize}'; give {RecipeResize.Crop}, {RecipeResize.Pad} or {RecipeResize.Stretch}.";
        }

        if (recipe.MaxTokens is < MinTokens or > MaxTokens)
        {
            return $"MaxTokens is {recipe.MaxTokens}; give {MinTokens} to {MaxTokens} (the special tokens included).";
        }

        if (recipe.TopK is < 1)
        {
            return $"TopK is {recipe.TopK}; give 1 or more.";
        }

        if (recipe.MaxPixels is < 1)
        {
            return $"MaxPixels is {recipe.MaxPixels}; give 1 or more.";
        }

        if (recipe.Width is < 1 or > MaxImageSide || recipe.Height is < 1 or > MaxImageSide)
        {
            return $"Width and Height, when given, are 1 to {MaxImageSide} pixels.";
        }

        foreach (var (name, values) in new[] { ("Mean", recipe.Mean), ("Std", recipe.Std) })
        {
            if (values is null)
            {
                continue;
            }

            if (values.Count != 3 || values.Any(v => !float.IsFinite(v)))
            {
                return $"{name} has {values.Count} values; give 3 finite numbers, one per channel (RGB order).";
            }
        }

        if (recipe.Std?.Any(v => v == 0) == true)
        {
            return "Std has a 0; each channel's value is divided by it, so give values other than 0.";
        }

        if (recipe.Labels?.Any(string.IsNullOrWhiteSpace) == true)
        {
            return "The labels include an empty one; give every class a name.";
        }

        return null;
    }

    private static string? TextProblem(ModelRecipe recipe, ModelSignature signature, string? vocabulary, BatchingSettings? batching)
    {
        if (vocabulary is null)
        {
            return $"{A(recipe.Kind, capital: true)} {recipe.Kind} recipe needs the model's WordPiece vocabulary: send vocab.txt in the 'vocab' part.";
        }

        if (VocabularyProblem(vocabulary, recipe.Lowercase ?? true) is { } vocabularyProblem)
        {
            return vocabularyProblem;
        }

        var ids = signature.Inputs.FirstOrDefault(i => i.Name == InputIds);
        if (ids is null)
        {
            return $"The model has no input '{InputIds}', which {A(recipe.Kind)} {recipe.Kind} recipe writes the token ids into; its inputs are {Names(signature.Inputs)}.";
        }

        foreach (var input in signature.Inputs)
        {
            if (input.Name is not (InputIds or AttentionMask or TokenTypeIds))
            {
                return $"The model has an input '{input.Name}' that {A(recipe.Kind)} {recipe.Kind} recipe cannot fill; it fills {InputIds}, {AttentionMask} and {TokenTypeIds}.";
            }

            if (input.Datatype is not (TensorDatatypes.Int64 or TensorDatatypes.Int32) || input.Shape.Count != 2)
            {
                return $"Input '{input.Name}' is {input.Datatype} {Shape(input)}; {A(recipe.Kind)} {recipe.Kind} recipe fills INT64 or INT32 inputs of rank 2 [batch, sequence].";
            }
        }

        if (signature.BatchMode == BatchMode.None)
        {
            return $"The model's inputs have no batch dimension ([batch, sequence] is needed): {Describe(signature.Inputs)}.";
        }

        if (signature.Inputs.Select(i => i.Shape[1]).Distinct().Count() > 1)
        {
            return $"The model's inputs disagree on the sequence length: {Describe(signature.Inputs)}; they must all be dynamic, or all fixed at one length.";
        }

        if (recipe.MaxTokens is { } maxTokens)
        {
            if (ids.Shape[1] >= 0 && maxTokens > ids.Shape[1])
            {
                return $"MaxTokens is {maxTokens}, but the model fixes input '{InputIds}' at {ids.Shape[1]} tokens.";
            }

            if (batching?.Inputs?.GetValueOrDefault(InputIds)?.MaxShape is { Count: 2 } bound && bound[1] > 0 && maxTokens > bound[1])
            {
                return $"MaxTokens is {maxTokens}, above the maximum shape registered for input '{InputIds}' ({bound[1]} tokens).";
            }
        }

        return null;
    }

    /// <summary>Whether the tokenizer the workers use can be built from the vocabulary, and it has BERT's special tokens.</summary>
    private static string? VocabularyProblem(string vocabulary, bool lowercase)
    {
        var lines = vocabulary.Split('\n').Select(line => line.TrimEnd('\r')).ToHashSet(StringComparer.Ordinal);
        if (SpecialTokens.FirstOrDefault(token => !lines.Contains(token)) is { } missing)
        {
            return $"vocab.txt has no line {missing}; a WordPiece vocabulary for BERT needs {string.Join(", ", SpecialTokens)}.";
        }

        try
        {
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(vocabulary));
            var tokenizer = BertTokenizer.Create(stream, new BertOptions { LowerCaseBeforeTokenization = lowercase, RemoveNonSpacingMarks = lowercase });
            return tokenizer.EncodeToIds("a").Count >= 2 ? null : "vocab.txt gives a tokenizer that adds no [CLS] and [SEP].";
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return $"vocab.txt is not a WordPiece vocabulary the tokenizer can read: {ex.Message}";
        }
    }

    private static string? ImageProblem(ModelRecipe recipe, ModelSignature signature, string? vocabulary)
    {
        if (vocabulary is not null)
        {
            return $"{A(recipe.Kind, capital: true)} {recipe.Kind} recipe takes no vocabulary; send no 'vocab' part.";
        }

        if (signature.Inputs is not [var input])
        {
            return $"{A(recipe.Kind, capital: true)} {recipe.Kind} recipe fills one image input; the model has {signature.Inputs.Count} ({Names(signature.Inputs)}).";
        }

        if (input.Datatype != TensorDatatypes.Fp32 || input.Shape.Count != 4 || input.Shape[1] is not (3 or -1) || signature.BatchMode == BatchMode.None)
        {
            return $"Input '{input.Name}' is {input.Datatype} {Shape(input)}; {A(recipe.Kind)} {recipe.Kind} recipe fills FP32 [batch, 3, height, width] (RGB channels on axis 1).";
        }

        foreach (var (side, axis, given) in new[] { ("Height", 2, recipe.Height), ("Width", 3, recipe.Width) })
        {
            var fixedSize = input.Shape[axis];
            if (fixedSize < 0 && given is null)
            {
                return $"Input '{input.Name}' {Shape(input)} has a dynamic {side.ToLowerInvariant()}; give the recipe's {side} (and {(side == "Width" ? "Height" : "Width")}) in pixels.";
            }

            if (fixedSize >= 0 && given is { } size && size != fixedSize)
            {
                return $"{side} is {size}, but the model fixes input '{input.Name}' {Shape(input)} at {fixedSize} on axis {axis}.";
            }
        }

        return null;
    }

    private static string? EmbeddingProblem(ModelRecipe recipe, ModelSignature signature)
    {
        if (recipe.Labels is { Count: > 0 })
        {
            return $"{A(recipe.Kind, capital: true)} {recipe.Kind} recipe takes no labels.";
        }

        var output = OutputOf(recipe, signature.Outputs);
        if (output is null)
        {
            return recipe.Output is { } named
                ? $"The model has no output '{named}'; its outputs are {Names(signature.Outputs)}."
                : $"The model has no output '{DefaultHiddenStates}' and none of rank 3 [batch, sequence, dimensions] for {A(recipe.Kind)} {recipe.Kind} recipe to pool; its outputs are {Describe(signature.Outputs)}.";
        }

        // An output named in the recipe may also be pooled already ([batch, dimensions]), and is then taken as it is.
        return output.Datatype == TensorDatatypes.Fp32 && (output.Shape.Count == 3 || (output.Shape.Count == 2 && recipe.Output is not null))
            ? null
            : $"Output '{output.Name}' is {output.Datatype} {Shape(output)}; {A(recipe.Kind)} {recipe.Kind} recipe pools FP32 hidden states of rank 3 [batch, sequence, dimensions] "
                + "(or takes an output it names, pooled already, [batch, dimensions]).";
    }

    private static string? ClassificationProblem(ModelRecipe recipe, ModelSignature signature, string labelsSource)
    {
        if (recipe.Labels is not { Count: > 0 } labels)
        {
            return $"{A(recipe.Kind, capital: true)} {recipe.Kind} recipe needs the class names: send labels.txt (one label per line, in the order of the model's outputs) in the 'labels' part.";
        }

        var output = OutputOf(recipe, signature.Outputs);
        if (output is null)
        {
            return $"The model has no output '{recipe.Output}'; its outputs are {Names(signature.Outputs)}.";
        }

        if (output.Datatype != TensorDatatypes.Fp32)
        {
            return $"Output '{output.Name}' is {output.Datatype} {Shape(output)}; {A(recipe.Kind)} {recipe.Kind} recipe reads FP32 logits, one per class.";
        }

        // The classes are every value of a record: the axes after the batch axis ([batch, classes], [batch, classes, 1, 1]).
        var perRecord = signature.BatchMode == BatchMode.None ? output.Shape : output.Shape.Skip(1).ToArray();
        var classes = perRecord.All(d => d >= 0) ? perRecord.Aggregate(1L, (product, d) => product * d) : -1;
        return classes >= 0 && classes != labels.Count
            ? $"{labelsSource} has {labels.Count} label{(labels.Count == 1 ? "" : "s")}; output '{output.Name}' has {classes} class{(classes == 1 ? "" : "es")}."
            : null;
    }

    /// <summary>"a" or "an" before a recipe kind.</summary>
    internal static string A(string kind, bool capital = false) =>
        (kind.Length > 0 && "aeiou".Contains(kind[0], StringComparison.Ordinal) ? "an" : "a") is var article && capital ? char.ToUpperInvariant(article[0]) + article[1..] : article;

    private static string Names(IReadOnlyList<TensorSpec> tensors) => string.Join(", ", tensors.Select(t => t.Name));

    private static string Describe(IReadOnlyList<TensorSpec> tensors) => string.Join(", ", tensors.Select(t => $"{t.Name} {Shape(t)}"));

    private static string Shape(TensorSpec tensor) =>
        $"[{string.Join(", ", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))}]";
}
