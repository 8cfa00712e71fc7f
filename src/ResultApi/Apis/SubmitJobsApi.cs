using System.Globalization;
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
        api.MapPost("/batch", SubmitJobBatch).WithName("SubmitJobBatch")
            .WithSummary($"Queues up to {JobBatchSubmitter.MaxJobs} predict jobs in one request and answers each as POST /v1/jobs would "
                + "(202 queued, 200 already known, or its refusal); admission is decided once per model for the whole body.");
        api.MapPost("/{id:guid}/cancel", CancelJob).WithName("CancelJob")
            .WithSummary("Asks for the job to be cancelled: a queued job never starts, a running train job ends within seconds. "
                + "202 with the job as it is now; wait for it to see its final state.");
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
            if (request.TimeToLiveProblem() is { } ttlProblem)
            {
                return Problems.Create(StatusCodes.Status400BadRequest, "Invalid job", ttlProblem);
            }

            submission = await submitter.SubmitPredictAsync(request.ToPredictJob(jobId, now), caller, cancellationToken);
        }

        if (submission.Refusal is { } refusal)
        {
            refusal.ApplyHeaders(http.Response);
            return Problems.Create(refusal.Status, refusal.Title, refusal.Detail);
        }

        var view = submission.Job!.ToView();
        return submission.IsNew ? TypedResults.Accepted($"/v1/jobs/{jobId}", view) : TypedResults.Ok(view);
    }

    public static async Task<Results<Ok<JobBatchView>, ProblemHttpResult>> SubmitJobBatch(
        SubmitJobBatchRequest request, TenantCaller caller, JobBatchSubmitter submitter, HttpContext http, CancellationToken cancellationToken)
    {
        if (request.Jobs is not { Count: > 0 and <= JobBatchSubmitter.MaxJobs } jobs)
        {
            return Problems.Create(StatusCodes.Status400BadRequest, "Invalid request",
                $"Give 1 to {JobBatchSubmitter.MaxJobs} jobs; {request.Jobs?.Count ?? 0} were given. Split larger submissions into several requests.");
        }

        var batch = await submitter.SubmitAsync(jobs, caller, cancellationToken);
        if (batch.Items.Max(i => i.RetryAfterSeconds) is { } retryAfter)
        {
            http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        }

        return TypedResults.Ok(batch);
    }

    public static async Task<Results<Accepted<JobView>, ProblemHttpResult>> CancelJob(
        Guid id, TenantCaller caller, IJobStore jobs, JobSubmitter submitter, CancellationToken cancellationToken)
    {
        if (await jobs.GetOwnAsync(caller, id, cancellationToken) is not { } job)
        {
            return JobsApi.UnknownJob(id);
        }

        await submitter.RequestCancelAsync(id, caller, cancellationToken);
        return TypedResults.Accepted($"/v1/jobs/{id}", job.ToView());
    }

    public static async Task<Results<Ok<IReadOnlyList<WebhookDeliveryView>>, ProblemHttpResult>> GetJobWebhooks(
        Guid id, TenantCaller caller, IJobStore jobs, IWebhookStore webhooks, CancellationToken cancellationToken)
    {
        if (await jobs.GetOwnAsync(caller, id, cancellationToken) is null)
        {
            return JobsApi.UnknownJob(id);
        }

        var deliveries = await webhooks.ListWebhooksAsync(caller.TenantId, id, cancellationToken);
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
