using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// Pre- and post-processing registered with a model version, which the worker runs around the batched model call: it
/// turns a job's text or image into the model's input tensors per record before batching (tokenize, decode, resize,
/// normalize), and the model's outputs back into answers after it (pool, normalize, softmax, labels). Null settings take
/// the defaults named on each. The vocabulary of the text recipes is a file stored beside the model, not part of this record.
/// </summary>
public sealed record ModelRecipe
{
    /// <summary>One of <see cref="RecipeKinds"/>.</summary>
    public required string Kind { get; init; }

    // ---- text (text-embedding, text-classification): BERT WordPiece over the uploaded vocab.txt ----

    /// <summary>Lower-case (and strip accents from) text before WordPiece, as uncased BERT models expect. Default true.</summary>
    public bool? Lowercase { get; init; }

    /// <summary>Tokens per record, the special tokens included. Default: the model's own bound on the sequence axis when
    /// the registration gives one, else 512.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Cut text longer than <see cref="MaxTokens"/> (the output then says <c>truncated: true</c>); false refuses such
    /// text with a reason instead. Default true.</summary>
    public bool? Truncate { get; init; }

    /// <summary>Prepended to every text before tokenizing, as some encoders want for queries or documents
    /// (<c>"query: "</c>, <c>"passage: "</c>). Default none.</summary>
    public string? Prefix { get; init; }

    /// <summary>text-embedding: <see cref="RecipePooling.Mean"/> (over real tokens, padding masked out) or
    /// <see cref="RecipePooling.Cls"/> (the first token). Default mean.</summary>
    public string? Pooling { get; init; }

    /// <summary>text-embedding: scale each embedding to unit length (L2). Default false.</summary>
    public bool? Normalize { get; init; }

    /// <summary>The model output the recipe reads: the hidden states to pool (text-embedding; default
    /// <c>last_hidden_state</c>, else the first output of rank 3) or the logits (classification; default the first output).</summary>
    public string? Output { get; init; }

    // ---- classification (text-classification, image-classification) ----

    /// <summary>Class names in the order of the model's logits, from the uploaded <c>labels.txt</c> (one per line).</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>text-classification: independent classes (sigmoid per label) instead of one class (softmax). Default false.</summary>
    public bool? MultiLabel { get; init; }

    /// <summary>The model's output holds probabilities already (it ends in a softmax or sigmoid): the scores are its values
    /// as they are. Default false: the output holds logits, and the recipe applies softmax (or sigmoid).</summary>
    public bool? Probabilities { get; init; }

    /// <summary>How many of the best labels the output lists, best first. Default 5 for images, every label for text.</summary>
    public int? TopK { get; init; }

    // ---- image-classification: decode, resize, normalize into NCHW float32 ----

    /// <summary>Model input width and height in pixels. Default: the model's fixed dimensions (required when they are dynamic).</summary>
    public int? Width { get; init; }

    public int? Height { get; init; }

    /// <summary><see cref="RecipeResize.Crop"/> (scale the shorter side to fit, then centre-crop), <see cref="RecipeResize.Pad"/>
    /// (scale the longer side to fit, then pad) or <see cref="RecipeResize.Stretch"/>. Default crop.</summary>
    public string? Resize { get; init; }

    /// <summary>Per channel (RGB order), subtracted from pixel values scaled to 0-1. Default ImageNet's (0.485, 0.456, 0.406).</summary>
    public IReadOnlyList<float>? Mean { get; init; }

    /// <summary>Per channel (RGB order), divided into the result. Default ImageNet's (0.229, 0.224, 0.225).</summary>
    public IReadOnlyList<float>? Std { get; init; }

    /// <summary>Feed channels as BGR instead of RGB (models converted from OpenCV pipelines). Default false.</summary>
    public bool? Bgr { get; init; }

    /// <summary>Largest decoded image accepted, in pixels (a guard against decompression bombs). Default 40,000,000.</summary>
    public long? MaxPixels { get; init; }
}

/// <summary>The recipes a model version can be registered with.</summary>
public static class RecipeKinds
{
    /// <summary>Text in; <c>embedding</c> (FP32 <c>[dim]</c>), <c>tokens</c> (INT64 <c>[1]</c>) and <c>truncated</c> (BOOL <c>[1]</c>) out.</summary>
    public const string TextEmbedding = "text-embedding";

    /// <summary>Text in; <c>label</c> (BYTES <c>[1]</c>), <c>labels</c> (BYTES <c>[k]</c>, best first) and <c>scores</c>
    /// (FP32 <c>[k]</c>, same order), <c>tokens</c> and <c>truncated</c> out.</summary>
    public const string TextClassification = "text-classification";

    /// <summary>An image (PNG, JPEG or WebP) in; <c>label</c>, <c>labels</c> and <c>scores</c> (the top k) out.</summary>
    public const string ImageClassification = "image-classification";

    public static IReadOnlyList<string> All { get; } = [TextEmbedding, TextClassification, ImageClassification];

    /// <summary>Whether the kind takes text (and so a vocabulary).</summary>
    public static bool TakesText(string kind) => kind is TextEmbedding or TextClassification;
}

public static class RecipePooling
{
    public const string Mean = "mean";
    public const string Cls = "cls";
}

public static class RecipeResize
{
    public const string Crop = "crop";
    public const string Pad = "pad";
    public const string Stretch = "stretch";
}
