using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// image-classification: an image (PNG, JPEG or WebP) decoded, resized and normalized by <see cref="ImagePreprocessor"/>
/// into the model's one NCHW FP32 input <c>[1, 3, height, width]</c>, and its logits answered as <c>label</c>,
/// <c>labels</c> and <c>scores</c> (the best 5 unless the recipe says). Width and height come from the recipe or from the
/// model's fixed dimensions, so every record has one shape and records batch without padding.
/// </summary>
internal sealed class ImageClassificationRunner : RecipeRunner
{
    private const int MaxSide = 16_384;
    private readonly Classifier _classifier;

    public ImageClassificationRunner(LoadedModel model, ModelRecipe recipe)
        : this(model, recipe, CheckInput(model, recipe), Classifier.For(model, recipe, defaultTopK: 5))
    {
    }

    private ImageClassificationRunner(LoadedModel model, ModelRecipe recipe, (int Width, int Height) size, Classifier classifier)
        : base(model, recipe, classifier.OutputIndex, Classifier.OutputNames)
    {
        _classifier = classifier;
        (Width, Height) = size;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Why no record of this recipe fits <paramref name="limits"/> (its tensor holds more values than a request may),
    /// or null: checked before decoding, so that a recipe of huge width and height cannot make a worker allocate for it.</summary>
    public string? SizeProblem(InputLimits limits)
    {
        var values = 3L * Width * Height;
        return values <= limits.MaxInputValues ? null
            : $"Model '{Model.Name}' v{Model.Version} takes {Width}x{Height} images, {values} input values each; at most {limits.MaxInputValues} are accepted.";
    }

    /// <summary>One record from a job's base64 image, or why it cannot be one (bad base64, not an image, too many pixels).</summary>
    public (PreparedRequest?, string?) Prepare(string base64, IReadOnlyList<string>? outputs = null) =>
        Record(ImagePreprocessor.ReadBase64(base64, Recipe, Width, Height), outputs);

    /// <summary>One record from an image's bytes (a bulk record, decoded from base64 when its file was split).</summary>
    public (PreparedRequest?, string?) Prepare(ReadOnlySpan<byte> encoded, IReadOnlyList<string>? outputs = null) =>
        Record(ImagePreprocessor.Read(encoded, Recipe, Width, Height), outputs);

    protected override NamedTensor[] Answer(TensorData output, RecipeRecord record) => _classifier.Answer(output);

    private (PreparedRequest?, string?) Record((float[]? Chw, string? Error) image, IReadOnlyList<string>? outputs)
    {
        if (image.Error is not null)
        {
            return (null, image.Error);
        }

        TensorData[] tensors = [new TensorData(TensorElementType.Float, [1, 3, Height, Width], image.Chw!)];
        var (key, length) = RequestPreparer.GroupOf(Model, tensors);
        return (new PreparedRequest(tensors, 1, key, length, Wanted) { Recipe = new RecipeRecord(0, false, outputs) }, null);
    }

    /// <summary>The model takes one FP32 [batch, 3, height, width] input, and the recipe's settings are usable; the size.</summary>
    private static (int Width, int Height) CheckInput(LoadedModel model, ModelRecipe recipe)
    {
        string Refuse(string why) => $"Model '{model.Name}' v{model.Version} cannot take its {recipe.Kind} recipe: {why}";
        if (model.Inputs.Count != 1 || model.Inputs[0] is not { Type: TensorElementType.Float, Dims.Length: 4 } input
            || input.Dims[1] is not (3 or -1) || model.BatchMode == BatchMode.None)
        {
            throw new ModelNotSupportedException(Refuse(
                $"it takes {string.Join(", ", model.Inputs.Select(i => $"{i.Name} {i.Datatype}{i.ShapeText}"))}; an image recipe fills one FP32 input [batch, 3, height, width]."));
        }

        var problem = (recipe.Resize ?? RecipeResize.Crop) is not (RecipeResize.Crop or RecipeResize.Pad or RecipeResize.Stretch) ? $"resize '{recipe.Resize}' is not crop, pad or stretch."
            : recipe.Mean is { Count: not 3 } || recipe.Std is { Count: not 3 } ? "mean and std give one value per channel (3)."
            : recipe.Std?.Any(s => s == 0 || !float.IsFinite(s)) == true ? "std has a zero or non-finite value."
            : recipe.MaxPixels is < 1 ? $"maxPixels is {recipe.MaxPixels}; it must be at least 1."
            : null;
        if (problem is not null)
        {
            throw new ModelNotSupportedException(Refuse(problem));
        }

        return (Side(input, 3, recipe.Width, "width", Refuse), Side(input, 2, recipe.Height, "height", Refuse));
    }

    private static int Side(ModelInput input, int axis, int? configured, string name, Func<string, string> refuse)
    {
        var fixedSize = input.Dims[axis];
        var side = configured ?? (fixedSize > 0 ? (int)fixedSize : 0);
        return configured is not null && fixedSize > 0 && configured != fixedSize
            ? throw new ModelNotSupportedException(refuse($"{name} is {configured}; input '{input.Name}' {input.ShapeText} takes {fixedSize}."))
            : side is < 1 or > MaxSide
            ? throw new ModelNotSupportedException(refuse(configured is null
                ? $"input '{input.Name}' {input.ShapeText} has a dynamic {name}; the recipe must give it."
                : $"{name} is {side}; it must be 1 to {MaxSide} pixels."))
            : side;
    }
}
