using AIaaS.Queue.Workers.Recipes;

namespace AIaaS.Queue.Workers.Tests.Recipes;

/// <summary>Text into WordPiece ids as a text recipe says: special tokens, prefix, lower-casing, truncation or refusal.</summary>
public sealed class TextEncoderTests
{
    /// <summary>A tiny uncased vocabulary: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, then words from 5.</summary>
    internal const string Vocabulary = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\nquery\n:\ncafe\nplay\n##ing\n";

    private static TextEncoder Encoder(int maxTokens = 512, bool truncate = true, string? prefix = null, bool lowercase = true) =>
        new(TextEncoder.CreateTokenizer(Vocabulary, lowercase), maxTokens, truncate, prefix);

    [Fact]
    public void TextBecomesItsWordPieceIdsBetweenClsAndSep()
    {
        var (ids, truncated, error) = Encoder().Encode("Hello WORLD playing");

        Assert.Null(error);
        Assert.Equal([2, 5, 6, 10, 11, 3], ids!);
        Assert.False(truncated);
    }

    [Fact]
    public void LowercasingCanBeTurnedOffForCasedVocabularies()
    {
        Assert.Equal([2, 9, 3], Encoder().Encode("CAFE").Ids!);
        Assert.Equal([2, 9, 3], Encoder().Encode("Café").Ids!); // accents stripped, as uncased BERT was trained
        Assert.Equal([2, 9, 3], Encoder().Encode("CAFÉ").Ids!);
        Assert.Equal([2, 1, 3], Encoder(lowercase: false).Encode("Hello").Ids!);
    }

    [Fact]
    public void ThePrefixIsTokenizedBeforeTheText()
    {
        var (ids, _, _) = Encoder(prefix: "query: ").Encode("hello");

        Assert.Equal([2, 7, 8, 5, 3], ids!);
    }

    [Fact]
    public void LongTextIsCutToMaxTokensCountingSpecialTokensAndKeepsItsClosingSep()
    {
        var (ids, truncated, error) = Encoder(maxTokens: 4).Encode("hello world hello world");

        Assert.Null(error);
        Assert.Equal([2, 5, 6, 3], ids!);
        Assert.True(truncated);
    }

    [Fact]
    public void TextExactlyAtMaxTokensIsNotTruncated()
    {
        var (ids, truncated, _) = Encoder(maxTokens: 4).Encode("hello world");

        Assert.Equal(4, ids!.Length);
        Assert.False(truncated);
    }

    [Fact]
    public void LongTextIsRefusedWithItsLengthWhenTheRecipeDoesNotTruncate()
    {
        var (ids, _, error) = Encoder(maxTokens: 4, truncate: false).Encode("hello world hello world");

        Assert.Null(ids);
        Assert.Equal("The text is 6 tokens long (special tokens included); the model takes at most 4, " +
            "and its recipe refuses longer text rather than cut it (truncate: false).", error);
    }

    [Fact]
    public void OneEncoderServesConcurrentJobsAsItServesThemOneByOne()
    {
        var encoder = Encoder();
        string[] words = ["hello", "world", "playing", "cafe", "query", "unknown"];
        var texts = Enumerable.Range(0, 2000).Select(i => string.Join(' ', Enumerable.Range(0, 1 + (i % 9)).Select(j => words[(i + j) % words.Length]))).ToArray();
        var alone = texts.Select(t => encoder.Encode(t).Ids!).ToArray();

        var together = new int[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => together[i] = encoder.Encode(texts[i]).Ids!);

        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(alone[i], together[i]);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \t\n ")]
    public void EmptyOrBlankTextIsRefused(string text)
    {
        var (ids, _, error) = Encoder().Encode(text);

        Assert.Null(ids);
        Assert.Equal("Text is empty; give the text to encode.", error);
    }
}
