using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>Submission over HTTP for clients without AMQP, and the webhook log of a job.</summary>
public static class SubmitJobsApi
{
    public static IEndpointRouteBuilder MapSubmitJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/jobs").WithTags("Jobs");
        api.MapPost("/", SubmitJob).WithName("SubmitJob")
            .WithSummary("Queues a predict or train job: 202 for a new job, 200 with the existing job when its JobId is already known, "
                + "429 with Retry-After when the model's backlog is at its admission limit.");
        app.MapGet("/v1/models/{name}/admission", GetModelAdmission).WithTags("Models").WithName("GetModelAdmission")
            .WithSummary("Whether the model takes new predict jobs now: its queued backlog against the admission limit.");
        api.MapGet("/{id:guid}/webhooks", GetJobWebhooks).WithName("GetJobWebhooks")
            .WithSummary("The job's webhook deliveries and every attempt: time, status code, latency, error.");
        return app;
    }

    public static async Task<Results<Accepted<JobView>, Ok<JobView>, ProblemHttpResult>> SubmitJob(
        SubmitJobRequest request, TenantCaller caller, JobSubmitter submitter, TimeProvider time, HttpContext http, CancellationToken cancellationToken)
    {
        var jobId = request.JobId ?? Guid.CreateVersion7();
        var now = time.GetUtcNow();
        JobSubmission submission;
        if (request.Kind == JobKind.Train)
        {
            submission = await submitter.SubmitTrainAsync(new SubmitTrainJob
            {
                JobId = jobId,
                Model = request.Model ?? "",
                Dataset = request.Dataset!,
                LabelColumn = request.LabelColumn ?? "",
                FeatureColumns = request.FeatureColumns,
                Task = request.Task ?? TrainingTask.MulticlassClassification,
                Architecture = request.Architecture ?? new TrainingArchitecture(),
                Hyperparameters = request.Hyperparameters ?? new TrainingHyperparameters(),
                TimeoutSeconds = request.TimeoutSeconds ?? 3600,
                CallbackUrl = request.CallbackUrl,
                SubmittedAt = now,
            }, caller, cancellationToken);
        }
        else
        {
            if (request.TimeToLiveSeconds is { } seconds && !(seconds is > 0 and <= 30 * 24 * 3600))
            {
                return Problems.Create(StatusCodes.Status400BadRequest, "Invalid job", "TimeToLiveSeconds, when given, must be above 0 and at most 30 days.");
            }

            submission = await submitter.SubmitPredictAsync(new SubmitPredictJob
            {
                JobId = jobId,
                Model = request.Model ?? "",
                ModelVersion = request.ModelVersion,
                Features = request.Features,
                Inputs = request.Inputs,
                Text = request.Text,
                Image = request.Image,
                Outputs = request.Outputs,
                CallbackUrl = request.CallbackUrl,
                Priority = request.Priority,
                ExpiresAt = request.TimeToLiveSeconds is { } ttl ? now.AddSeconds(ttl) : null,
                SubmittedAt = now,
            }, caller, cancellationToken);
        }

        if (submission.Refusal is { } refusal)
        {
            refusal.ApplyHeaders(http.Response);
            return Problems.Create(refusal.Status, refusal.Title, refusal.Detail);
        }

        var view = submission.Job!.ToView();
        return submission.IsNew ? TypedResults.Accepted($"/v1/jobs/{jobId}", view) : TypedResults.Ok(view);
    }

    public static async Task<Results<Ok<IReadOnlyList<WebhookDeliveryView>>, ProblemHttpResult>> GetJobWebhooks(
        Guid id, TenantCaller caller, IJobStore jobs, IWebhookStore webhooks, CancellationToken cancellationToken)
    {
        if (await jobs.GetOwnAsync(caller, id, cancellationToken) is null)
        {
            return JobsApi.UnknownJob(id);
        }

        var deliveries = await webhooks.ListWebhooksAsync(id, cancellationToken);
        return TypedResults.Ok<IReadOnlyList<WebhookDeliveryView>>(deliveries.Select(d => d.ToView()).ToArray());
    }

    /// <summary>The model's backlog against the admission limit, as <c>POST /v1/jobs</c> judges it; the SDK asks this before
    /// it publishes to the broker.</summary>
    public static async Task<Results<Ok<ModelAdmissionView>, ProblemHttpResult>> GetModelAdmission(
        string name, TenantCaller caller, JobSubmitter submitter, CancellationToken cancellationToken) =>
        Tenants.IsValidModelName(name)
            ? TypedResults.Ok(await submitter.AdmissionAsync(name, Tenants.QualifyModel(caller.TenantId, name), cancellationToken))
            : Problems.Create(StatusCodes.Status404NotFound, "Unknown model", $"No model {name} is registered.");
}
