using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain.Explanations;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// The body of <c>PUT /v1/models/{name}</c>, read once: either the ONNX file alone (<c>application/octet-stream</c>), or
/// <c>multipart/form-data</c> with the parts <c>model</c> (the ONNX file), <c>recipe</c> (a <see cref="ModelRecipe"/> in
/// JSON), <c>vocab</c> (<c>vocab.txt</c>) and <c>labels</c> (<c>labels.txt</c>, one label per line, blank lines ignored, which
/// become <see cref="ModelRecipe.Labels"/>) and <c>background</c> (a CSV file of feature names and rows, which explanations
/// average over; see <see cref="BackgroundRows"/>). The model is streamed to a temporary file, deleted when this is disposed; the
/// text parts are held in memory, each bounded by <see cref="ResultApiOptions.MaxVocabularyBytes"/>.
/// </summary>
public sealed class ModelUpload : IDisposable
{
    public const string ModelPart = "model", RecipePart = "recipe", VocabPart = "vocab", LabelsPart = "labels", BackgroundPart = "background";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private ModelUpload(string path) => Path = path;

    /// <summary>Where the model file was spooled; ONNX Runtime must load it from a file to validate it.</summary>
    public string Path { get; }

    public long Length { get; private set; }

    /// <summary>The recipe, with the labels of <c>labels.txt</c> when it came; null when none was sent.</summary>
    public ModelRecipe? Recipe { get; private set; }

    public string? Vocabulary { get; private set; }

    /// <summary>The background data of the <c>background</c> part (sampled down to its limit); null when none was sent.</summary>
    public ExplanationBackground? Background { get; private set; }

    /// <summary>Where the recipe's labels came from, for the reasons a refusal gives.</summary>
    public string LabelsSource { get; private set; } = "The recipe";

    public void Dispose() => File.Delete(Path);

    /// <summary>Reads the request body; the result is either an upload (dispose it) or the problem to answer. Raises the
    /// request's body limit to what the upload may hold, so that Kestrel's 413 (a <see cref="BadHttpRequestException"/>)
    /// still ends one that sends more; a part over its own limit ends it the same way.</summary>
    public static async Task<(ModelUpload? Upload, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request, ResultApiOptions options,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        var multipart = MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            // The text parts and the multipart framing on top of the model; each part is bounded on its own below.
            bodySize.MaxRequestBodySize = multipart ? SaturatingAdd(options.MaxModelBytes, 4L * options.MaxVocabularyBytes + (1 << 16)) : options.MaxModelBytes;
        }

        var upload = new ModelUpload(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"aiaas-upload-{Guid.NewGuid():N}.onnx"));
        try
        {
            var problem = multipart
                ? await upload.ReadPartsAsync(request, type!, options, cancellationToken)
                : await upload.ReadModelAsync(request.Body, options.MaxModelBytes, cancellationToken);
            if (problem is null)
            {
                return (upload, null);
            }

            upload.Dispose();
            return (null, problem);
        }
        catch
        {
            upload.Dispose();
            throw;
        }
    }

    private async Task<ProblemHttpResult?> ReadPartsAsync(HttpRequest request, MediaTypeHeaderValue type, ResultApiOptions options,
        CancellationToken cancellationToken)
    {
        var boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value;
        if (string.IsNullOrEmpty(boundary))
        {
            return Invalid("The multipart/form-data body names no boundary.");
        }

        var reader = new MultipartReader(boundary, request.Body);
        string? recipeJson = null, labelsText = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            for (var section = await reader.ReadNextSectionAsync(cancellationToken); section is not null;
                section = await reader.ReadNextSectionAsync(cancellationToken))
            {
                var name = ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    ? HeaderUtilities.RemoveQuotes(disposition.Name).Value
                    : null;
                if (name is not (ModelPart or RecipePart or VocabPart or LabelsPart or BackgroundPart))
                {
                    return Invalid($"The upload has a part '{name}'; its parts are {ModelPart} (the ONNX file), {RecipePart} (JSON), {VocabPart} (vocab.txt), {LabelsPart} (labels.txt) and {BackgroundPart} (CSV).");
                }

                if (!seen.Add(name))
                {
                    return Invalid($"The upload has two '{name}' parts; send each once.");
                }

                if (name == ModelPart)
                {
                    if (await ReadModelAsync(section.Body, options.MaxModelBytes, cancellationToken) is { } modelProblem)
                    {
                        return modelProblem;
                    }

                    continue;
                }

                var (text, textProblem) = await ReadTextAsync(section.Body, name, options.MaxVocabularyBytes, cancellationToken);
                if (textProblem is not null)
                {
                    return textProblem;
                }

                if (name == RecipePart)
                {
                    recipeJson = text;
                }
                else if (name == VocabPart)
                {
                    Vocabulary = text;
                }
                else if (name == BackgroundPart)
                {
                    var (background, backgroundProblem) = BackgroundRows.ParseCsv(text!);
                    if (backgroundProblem is not null)
                    {
                        return Invalid(backgroundProblem);
                    }

                    Background = background;
                }
                else
                {
                    labelsText = text;
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException && ex is not BadHttpRequestException)
        {
            return Invalid($"The multipart/form-data body cannot be read: {ex.Message}");
        }

        if (!seen.Contains(ModelPart))
        {
            return Invalid($"The upload has no '{ModelPart}' part; send the ONNX file in it.");
        }

        return ReadRecipe(recipeJson, labelsText);
    }

    /// <summary>The recipe from its JSON, with the labels of labels.txt; a vocabulary or labels without a recipe are refused,
    /// since nothing would use them.</summary>
    private ProblemHttpResult? ReadRecipe(string? json, string? labelsText)
    {
        if (json is null)
        {
            return Vocabulary is null && labelsText is null
                ? null
                : Invalid($"vocab.txt and labels.txt go with a recipe: send a '{RecipePart}' part too, such as {{\"kind\": \"{RecipeKinds.TextEmbedding}\"}}.");
        }

        try
        {
            Recipe = JsonSerializer.Deserialize<ModelRecipe>(json, WireJson.Options);
        }
        catch (JsonException ex)
        {
            return Invalid($"The '{RecipePart}' part is not a recipe in JSON: {ex.Message}");
        }

        if (Recipe is null || string.IsNullOrWhiteSpace(Recipe.Kind))
        {
            return Invalid($"The recipe names no kind; give one of {string.Join(", ", RecipeKinds.All)}.");
        }

        if (labelsText is not null)
        {
            if (Recipe.Labels is { Count: > 0 })
            {
                return Invalid("Give the labels either in labels.txt or in the recipe's 'labels', not both.");
            }

            Recipe = Recipe with { Labels = RecipeRules.ParseLabels(labelsText) };
            LabelsSource = "labels.txt";
        }

        return null;
    }

    private async Task<ProblemHttpResult?> ReadModelAsync(Stream body, long limit, CancellationToken cancellationToken)
    {
        await using (var file = File.Create(Path))
        {
            if (!await CopyAtMostAsync(body, file, limit, cancellationToken))
            {
                throw new BadHttpRequestException("The model is too large.", StatusCodes.Status413PayloadTooLarge);
            }

            Length = file.Length;
        }

        return Length == 0 ? Invalid("The model file is empty; send the ONNX file as application/octet-stream or in the 'model' part.") : null;
    }

    private static async Task<(string? Text, ProblemHttpResult? Problem)> ReadTextAsync(Stream body, string part, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        if (!await CopyAtMostAsync(body, buffer, limit, cancellationToken))
        {
            return (null, Problems.Create(StatusCodes.Status413PayloadTooLarge, "Part too large", $"The '{part}' part is larger than the {limit} bytes allowed."));
        }

        try
        {
            var text = StrictUtf8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            return (text.StartsWith('\uFEFF') ? text[1..] : text, null);
        }
        catch (DecoderFallbackException)
        {
            return (null, Invalid($"The '{part}' part is not UTF-8 text."));
        }
    }

    /// <summary>Copies until the source ends; false, with the copy cut short, when it holds more than <paramref name="limit"/> bytes.</summary>
    private static async Task<bool> CopyAtMostAsync(Stream source, Stream destination, long limit, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        long copied = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
        {
            copied += read;
            if (copied > limit)
            {
                return false;
            }

            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }

        return true;
    }

    private static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static ProblemHttpResult Invalid(string detail) => Problems.Create(StatusCodes.Status400BadRequest, "Invalid model", detail);
}
