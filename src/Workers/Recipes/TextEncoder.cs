using System.Text;
using Microsoft.ML.Tokenizers;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// One record's text into WordPiece ids with BERT's special tokens (<c>[CLS] … [SEP]</c>), by Microsoft.ML.Tokenizers'
/// <see cref="BertTokenizer"/> over the version's own vocabulary: the prefix first, then at most
/// <see cref="MaxTokens"/> ids, special tokens included. Longer text is cut (keeping the closing <c>[SEP]</c>, as the
/// Hugging Face tokenizers truncate) or refused, as the recipe says. Shared by every thread: the tokenizer only reads.
/// </summary>
internal sealed class TextEncoder(BertTokenizer tokenizer, int maxTokens, bool truncate, string? prefix)
{
    public int MaxTokens => maxTokens;

    /// <summary>The tokenizer of <paramref name="vocabulary"/> (vocab.txt's content); lower-casing also asks it to strip
    /// accents, as uncased BERT models were trained. Throws what the tokenizer throws for a vocabulary it cannot use.</summary>
    /// <remarks>The tokenizer strips accents by decomposing the text (Unicode normalization), which needs culture data:
    /// the builds run with ICU (InvariantGlobalization off in Directory.Build.props) for that reason.</remarks>
    public static BertTokenizer CreateTokenizer(string vocabulary, bool lowercase)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(vocabulary), writable: false);
        return BertTokenizer.Create(stream, new BertOptions
        {
            LowerCaseBeforeTokenization = lowercase,
            RemoveNonSpacingMarks = lowercase,
        });
    }

    /// <summary>The ids of <paramref name="text"/>, whether it was cut, or why it cannot be a record.</summary>
    public (int[]? Ids, bool Truncated, string? Error) Encode(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, false, "Text is empty; give the text to encode.");
        }

        text = prefix is null ? text : prefix + text;
        var ids = tokenizer.EncodeToIds(text, addSpecialTokens: true,
            considerPreTokenization: true, considerNormalization: true);
        if (ids.Count <= maxTokens)
        {
            return ([.. ids], false, null);
        }

        if (!truncate)
        {
            return (null, false, $"The text is {ids.Count} tokens long (special tokens included); the model takes at most {maxTokens}, " +
                "and its recipe refuses longer text rather than cut it (truncate: false).");
        }

        var cut = new int[maxTokens];
        for (var i = 0; i < maxTokens - 1; i++)
        {
            cut[i] = ids[i];
        }

        cut[^1] = ids[^1]; // the closing [SEP]
        return (cut, true, null);
    }
}
