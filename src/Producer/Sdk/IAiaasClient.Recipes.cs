using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>Models registered with a recipe (<see cref="ModelRecipe"/>): text and images in, embeddings and labels out.</summary>
public partial interface IAiaasClient
{
    /// <summary>Uploads an ONNX file with its recipe as the next version of <paramref name="name"/>. A text recipe
    /// (<see cref="RecipeKinds.TextEmbedding"/>, <see cref="RecipeKinds.TextClassification"/>) needs the model's WordPiece
    /// <paramref name="vocabulary"/> (<c>vocab.txt</c>); a classification recipe needs <see cref="ModelRecipe.Labels"/>, in the
    /// order of the model's outputs. The server checks the recipe against the file's signature and refuses the registration
    /// (<see cref="AiaasApiException"/>, 400) with the reason when it does not fit: no <c>input_ids</c> input, labels that do
    /// not match the classes, an image model with a dynamic size and no <see cref="ModelRecipe.Width"/>, and so on.</summary>
    Task<ModelView> RegisterModelAsync(string name, Stream onnxFile, ModelRecipe recipe, Stream? vocabulary, BatchingSettings? batching = null,
        string? description = null, CancellationToken cancellationToken = default);

    /// <summary>Embeds one text with a model registered with a <see cref="RecipeKinds.TextEmbedding"/> recipe: submits the
    /// job, waits for it and returns its <c>embedding</c>. Throws <see cref="JobFailedException"/> when the job fails (text
    /// too long for a recipe that does not truncate, a model without a text recipe).</summary>
    Task<float[]> EmbedAsync(string model, string text, CancellationToken cancellationToken = default);

    /// <summary>Embeds many texts, one job each (the workers batch them), and returns the embeddings in the order of
    /// <paramref name="texts"/>; throws <see cref="JobFailedException"/> for the first job that failed.</summary>
    Task<IReadOnlyList<float[]>> EmbedManyAsync(string model, IEnumerable<string> texts, CancellationToken cancellationToken = default);

    /// <summary>Classifies one text with a model registered with a <see cref="RecipeKinds.TextClassification"/> recipe.</summary>
    Task<Classification> ClassifyAsync(string model, string text, CancellationToken cancellationToken = default);

    /// <summary>Classifies one image (PNG, JPEG or WebP file bytes) with a model registered with an
    /// <see cref="RecipeKinds.ImageClassification"/> recipe.</summary>
    Task<Classification> ClassifyImageAsync(string model, byte[] image, CancellationToken cancellationToken = default);
}

/// <summary>What a classification recipe answered: the best <see cref="Label"/>, and the top labels with their scores, best
/// first (softmax probabilities; per-label sigmoid for a multi-label recipe).</summary>
public sealed record Classification(string Label, IReadOnlyList<string> Labels, IReadOnlyList<float> Scores)
{
    /// <summary>Reads a classification from a job's outputs (<c>label</c>, <c>labels</c>, <c>scores</c>).</summary>
    /// <exception cref="KeyNotFoundException">The outputs are not a classification recipe's.</exception>
    public static Classification FromOutputs(IReadOnlyDictionary<string, InferTensor> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        return new Classification(
            outputs.Named("label").ToArray<string>().FirstOrDefault() ?? "",
            outputs.Named("labels").ToArray<string>(),
            outputs.Named("scores").ToFloats());
    }
}
