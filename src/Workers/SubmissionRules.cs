using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Workers;

/// <summary>What a submitted job must satisfy: checked by the workers, and by the ResultApi before it accepts a job over HTTP.</summary>
public static class SubmissionRules
{
    /// <summary>Why a train job cannot run, or null when it can.</summary>
    public static string? TrainJobProblem(SubmitTrainJob job)
    {
        if (string.IsNullOrWhiteSpace(job.Model))
        {
            return "Model (the name to register the trained model under) is required.";
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

        return job.TimeoutSeconds is > 0 and < 7 * 24 * 3600 ? null : "TimeoutSeconds must be above 0 and below a week.";
    }

    /// <summary>Why a predict job cannot even be looked at by a worker, or null. Shape checks against the model happen in the worker.</summary>
    public static string? PredictJobProblem(SubmitPredictJob job)
    {
        if (string.IsNullOrWhiteSpace(job.Model))
        {
            return "Model is missing: name a registered model.";
        }

        if (job.ModelVersion is < 1)
        {
            return "ModelVersion, when given, starts at 1.";
        }

        return (job.Features is null) == (job.Inputs is null) ? "Give the record either as Features or as Inputs, not both." : null;
    }
}
