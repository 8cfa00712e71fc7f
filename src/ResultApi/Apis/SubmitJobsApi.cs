using AIaaS.Queue.Contracts;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.ResultApi.Webhooks;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers;
using MassTransit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

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
        SubmitJobRequest request, TenantCaller caller, IJobStore jobs, IModelStore models, IBus bus, CallbackUrlPolicy callbacks,
        IOptions<ResultApiOptions> admission, ITrainingStore training, TimeProvider time, HttpContext http, CancellationToken cancellationToken)
    {
        var jobId = request.JobId ?? Guid.CreateVersion7();
        if (jobId == Guid.Empty)
        {
            return Invalid("JobId must not be the empty GUID.");
        }

        if (await jobs.GetAsync(jobId, cancellationToken) is { } existing)
        {
            // Ids are client-chosen: one in use by another tenant is refused without a word about that job.
            return existing.TenantId == caller.TenantId
                ? TypedResults.Ok(existing.ToView())
                : Problems.Create(StatusCodes.Status409Conflict, "JobId not available", $"JobId {jobId} cannot be used; choose another.");
        }

        if (request.CallbackUrl is { } url
            && await callbacks.CheckSubmittedAsync(url, nameof(request.CallbackUrl), cancellationToken) is { } refused)
        {
            return Invalid(refused);
        }

        var now = time.GetUtcNow();
        JobRecord queued;
        if (request.Kind == JobKind.Train)
        {
            var job = new SubmitTrainJob
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
                Sender = ApiKeyFormat.Credentials(caller.ApiKey, ApiKeyFormat.TrainPurpose, jobId),
            };
            if (SubmissionRules.TrainJobProblem(job, admission.Value.MaxInputValues) is { } problem)
            {
                return Invalid(problem);
            }

            if (job.Dataset.FileId is { } fileId && await training.GetDatasetAsync(caller.TenantId, fileId, cancellationToken) is null)
            {
                return Problems.Create(StatusCodes.Status404NotFound, "Unknown dataset", $"No dataset with id '{fileId}' is stored.");
            }

            await bus.Publish(job, context => context.MessageId = jobId, cancellationToken);
            queued = new JobRecord
            {
                JobId = jobId,
                TenantId = caller.TenantId,
                Kind = JobKind.Train,
                Model = Tenants.QualifyModel(caller.TenantId, job.Model),
                Status = JobStatus.Queued,
                SubmittedAt = now,
            };
        }
        else
        {
            if (request.TimeToLiveSeconds is { } seconds && !(seconds is > 0 and <= 30 * 24 * 3600))
            {
                return Invalid("TimeToLiveSeconds, when given, must be above 0 and at most 30 days.");
            }

            var job = new SubmitPredictJob
            {
                JobId = jobId,
                Model = request.Model ?? "",
                ModelVersion = request.ModelVersion,
                Features = request.Features,
                Inputs = request.Inputs,
                Outputs = request.Outputs,
                CallbackUrl = request.CallbackUrl,
                Priority = request.Priority,
                ExpiresAt = request.TimeToLiveSeconds is { } ttl ? now.AddSeconds(ttl) : null,
                SubmittedAt = now,
                Sender = ApiKeyFormat.Credentials(caller.ApiKey, ApiKeyFormat.PredictPurpose, jobId),
            };
            if (SubmissionRules.PredictJobProblem(job, admission.Value.MaxInputValues) is { } problem)
            {
                return Invalid(problem);
            }

            var storedModel = Tenants.QualifyModel(caller.TenantId, job.Model);
            if (await models.GetVersionAsync(storedModel, job.ModelVersion, cancellationToken) is null)
            {
                return Problems.Create(StatusCodes.Status404NotFound, "Unknown model",
                    $"No model {job.Model}{(job.ModelVersion is { } v ? $" version {v}" : "")} is registered.");
            }

            // Admission: a model whose backlog is at its limit refuses at once rather than queueing without bound.
            if (await AdmissionAsync(job.Model, storedModel, jobs, admission.Value, cancellationToken) is { Admitted: false } full)
            {
                http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Problems.Create(StatusCodes.Status429TooManyRequests, "Model overloaded",
                    $"Model {job.Model} has {full.Limit} or more jobs queued, its admission limit; job {jobId} was not queued. "
                    + $"Retry after {RetryAfterSeconds} s with the same JobId.");
            }

            await bus.Publish(job, context =>
            {
                context.MessageId = jobId;
                // RabbitMQ message priority; ignored unless the predict queue was declared with x-max-priority.
                context.TrySetPriority(job.Priority == JobPriority.High ? (byte)1 : (byte)0);
            }, cancellationToken);
            queued = new JobRecord
            {
                JobId = jobId,
                TenantId = caller.TenantId,
                Kind = JobKind.Predict,
                Model = storedModel,
                ModelVersion = job.ModelVersion,
                Status = JobStatus.Queued,
                SubmittedAt = now,
            };
        }

        // After the publish, so that no queued record exists for a job that never reached the broker; insert-if-absent, so
        // it never overwrites a result a fast worker already stored. A repeat of this request now answers 200.
        await jobs.InsertIfAbsentAsync([queued], cancellationToken);
        return TypedResults.Accepted($"/v1/jobs/{jobId}", queued.ToView());
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
    /// it publishes to the broker. Counting stops at the limit, so the question costs at most one page of the store.</summary>
    public static async Task<Results<Ok<ModelAdmissionView>, ProblemHttpResult>> GetModelAdmission(
        string name, TenantCaller caller, IJobStore jobs, IOptions<ResultApiOptions> options, CancellationToken cancellationToken) =>
        Tenants.IsValidModelName(name)
            ? TypedResults.Ok(await AdmissionAsync(name, Tenants.QualifyModel(caller.TenantId, name), jobs, options.Value, cancellationToken))
            : Problems.Create(StatusCodes.Status404NotFound, "Unknown model", $"No model {name} is registered.");

    private static async Task<ModelAdmissionView> AdmissionAsync(string model, string storedModel, IJobStore jobs, ResultApiOptions options,
        CancellationToken cancellationToken)
    {
        if (options.MaxQueuedJobsPerModel is not { } limit)
        {
            return new ModelAdmissionView { Model = model, Queued = 0, Admitted = true };
        }

        var queued = (await jobs.ListAsync(new JobQuery { Status = JobStatus.Queued, Model = storedModel, Limit = limit }, cancellationToken)).Items.Count;
        return new ModelAdmissionView { Model = model, Queued = queued, Limit = limit, Admitted = queued < limit, RetryAfterSeconds = RetryAfterSeconds };
    }

    private const int RetryAfterSeconds = 1;

    private static ProblemHttpResult Invalid(string detail) => Problems.Create(StatusCodes.Status400BadRequest, "Invalid job", detail);
}
