using System.Buffers.Text;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Domain;

/// <summary>What a submitted job must satisfy: checked by the workers, and by the ResultApi before it accepts a job over HTTP.</summary>
public static class SubmissionRules
{
    /// <summary>Why a train job cannot run, or null when it can.</summary>
    public static string? TrainJobProblem(SubmitTrainJob job, int maxInputValues)
    {
        if (string.IsNullOrWhiteSpace(job.Model))
        {
            return "Model (the name to register the trained model under) is required.";
        }

        if (ModelNameProblem(job.Model) is { } nameProblem)
        {
            return nameProblem;
        }

        if (string.IsNullOrWhiteSpace(job.LabelColumn))
        {
            return "LabelColumn is required.";
        }

        var dataset = job.Dataset;
        var inline = dataset?.Rows is not null || dataset?.Columns is not null;
        if (dataset is null || (dataset.FileId is null) == !inline)
        {
            return "Give the dataset either inline (Columns and Rows) or as an uploaded file (FileId), not both.";
        }

        if (inline && (dataset.Columns is null || dataset.Rows is null))
        {
            return "Inline datasets need both Columns and Rows.";
        }

        if (inline && (long)dataset.Rows!.Count * Math.Max(1, dataset.Columns!.Count) > maxInputValues)
        {
            return $"The inline dataset has more than {maxInputValues} values; upload it as a file instead.";
        }

        return job.TimeoutSeconds is > 0 and < 7 * 24 * 3600 ? null : "TimeoutSeconds must be above 0 and below a week.";
    }

    /// <summary>Why a predict job cannot even be looked at by a worker, or null. Shape checks against the model happen in the worker.</summary>
    public static string? PredictJobProblem(SubmitPredictJob job, int maxInputValues)
    {
        if (string.IsNullOrWhiteSpace(job.Model))
        {
            return "Model is missing: name a registered model.";
        }

        if ((ModelNameProblem(job.Model) ?? InputSizeProblem(job, maxInputValues)) is { } problem)
        {
            return problem;
        }

        if (job.ModelVersion is < 1)
        {
            return "ModelVersion, when given, starts at 1.";
        }

        var ways = (job.Features is null ? 0 : 1) + (job.Inputs is null ? 0 : 1) + (job.Text is null ? 0 : 1) + (job.Image is null ? 0 : 1);
        if (ways != 1)
        {
            return "Give the record in exactly one way: Features, Inputs, Text or Image.";
        }

        return job.Image is { } image && (image.Length == 0 || !Base64.IsValid(image))
            ? "Image must be the image file's bytes (PNG, JPEG or WebP), base64-encoded."
            : null;
    }

    /// <summary>Why a model name is not one a tenant can register or use (it would name another tenant's model), or null.</summary>
    public static string? ModelNameProblem(string? model) => Tenants.IsValidModelName(model) ? null : ModelNameRule;

    /// <summary>Bounds a record before any work; the model's own shape check comes later and needs the model loaded.</summary>
    public static string? InputSizeProblem(SubmitPredictJob job, int maxInputValues)
    {
        var values = (long)(job.Features?.Length ?? 0) + (job.Inputs?.Sum(t => Math.Max(0, TensorElements.Count(t?.Data ?? default))) ?? 0);
        if (values > maxInputValues)
        {
            return $"The record has {values} input values; at most {maxInputValues} are accepted.";
        }

        // Text and images are bounded by the message and body size limits; this only keeps text to what a tokenizer should take.
        return job.Text?.Length > maxInputValues ? $"The text has {job.Text.Length} characters; at most {maxInputValues} are accepted." : null;
    }

    public const string ModelNameRule = "Model names are 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.";
}
