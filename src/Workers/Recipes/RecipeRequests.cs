using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// A predict job that carries text or an image, prepared by its model's recipe into one record, or refused with the
/// reason: both text and an image, text or an image beside tensors, a version without a recipe, text for an image
/// recipe (or the other way round), text too large, an output the recipe does not make, and whatever the recipe refuses.
/// </summary>
internal static class RecipeRequests
{
    public static (PreparedRequest? Request, string? Error) Prepare(LoadedModel model, SubmitPredictJob job, InputLimits limits)
    {
        if (job.Text is not null && job.Image is not null)
        {
            return (null, "Give either Text or Image, not both.");
        }

        var given = job.Text is not null ? "Text" : "Image";
        if (job.Features is not null || job.Inputs is { Count: > 0 })
        {
            return (null, $"Give either {given} or tensors (Features or Inputs), not both.");
        }

        if (model.Recipe is not { } runner)
        {
            return (null, $"Model '{model.Name}' v{model.Version} has no recipe, so it takes tensors only (Features or Inputs); " +
                $"{given} needs a version registered with a recipe ({string.Join(", ", RecipeKinds.All)}).");
        }

        var (outputs, outputError) = RequestedOutputs(runner, job.Outputs);
        if (outputError is not null)
        {
            return (null, outputError);
        }

        return job.Text is not null ? PrepareText(runner, job.Text, outputs, limits) : PrepareImage(runner, job.Image!, outputs, limits);
    }

    private static (PreparedRequest?, string?) PrepareText(RecipeRunner runner, string text, IReadOnlyList<string>? outputs, InputLimits limits)
    {
        if (runner is not TextRunner textRunner)
        {
            return (null, $"Model '{runner.Model.Name}' v{runner.Model.Version} takes an image (its recipe is {runner.Recipe.Kind}), not text.");
        }

        var bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > limits.MaxStringBytes)
        {
            return (null, $"The text is {bytes} bytes (UTF-8); at most {limits.MaxStringBytes} are accepted.");
        }

        var (ids, truncated, error) = textRunner.Encode(text);
        return error is not null ? (null, error) : (textRunner.Prepare(ids!, truncated, outputs), null);
    }

    private static (PreparedRequest?, string?) PrepareImage(RecipeRunner runner, string image, IReadOnlyList<string>? outputs, InputLimits limits)
    {
        if (runner is not ImageClassificationRunner imageRunner)
        {
            return (null, $"Model '{runner.Model.Name}' v{runner.Model.Version} takes text (its recipe is {runner.Recipe.Kind}), not an image.");
        }

        return imageRunner.SizeProblem(limits) is { } problem ? (null, problem) : imageRunner.Prepare(image, outputs);
    }

    /// <summary>The recipe outputs the job names (null for all), or why one is not a recipe output.</summary>
    private static (IReadOnlyList<string>?, string?) RequestedOutputs(RecipeRunner runner, IReadOnlyList<RequestedOutput>? requested)
    {
        if (requested is not { Count: > 0 })
        {
            return (null, null);
        }

        var names = new List<string>(requested.Count);
        foreach (var output in requested)
        {
            if (output?.Name is not { } name || !runner.OutputNames.Contains(name))
            {
                return (null, $"Model '{runner.Model.Name}' answers {string.Join(", ", runner.OutputNames)} for its {runner.Recipe.Kind} recipe; " +
                    $"there is no output '{output?.Name}'.");
            }

            names.Add(name);
        }

        return (names, null);
    }
}
