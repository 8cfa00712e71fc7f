using System.Globalization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.ResultApi.Webhooks;
using AIaaS.Queue.Store;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// Puts jobs that arrive over HTTP on the broker, once for every endpoint that takes them (<c>POST /v1/jobs</c>, the Open
/// Inference Protocol's infer): a JobId this tenant already used, the callback URL, the job's own rules, the model,
/// admission, then publish and the record of the job. Each endpoint renders the outcome in its own protocol's form.
/// </summary>
/// <remarks>
/// JobIds are unique per tenant (issue #13, finding 14): the store keys a job by its tenant and id, the workers by the
/// verified sender's tenant and the id. Another tenant's job under the same id is never read here, so a submission under it
/// is answered exactly as one under a fresh id, and both tenants keep a job of their own. A repeat by the same tenant
/// answers with its existing job: idempotency is per tenant.
/// </remarks>
public sealed class JobSubmitter(IJobStore jobs, IModelStore models, IDatasetStore datasets, IBus bus, CallbackUrlPolicy callbacks,
    IOptions<ResultApiOptions> options, TimeProvider timeProvider)
{
    /// <summary>Seconds a client refused at the admission limit is told to wait (Retry-After).</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary>Queues a predict job for <paramref name="caller"/>; the job's <see cref="SubmitPredictJob.Sender"/> is set here,
    /// from the caller's key.</summary>
    public Task<JobSubmission> SubmitPredictAsync(SubmitPredictJob job, TenantCaller caller, CancellationToken cancellationToken) =>
        SubmitPredictAsync(job, caller, admission: null, cancellationToken);

    /// <summary>As <see cref="SubmitPredictAsync(SubmitPredictJob, TenantCaller, CancellationToken)"/>, with admission already
    /// decided for a group of jobs (<see cref="JobBatchSubmitter"/>); null asks for this job alone. The checks keep their
    /// order, so a repeat of a job already queued is answered as such even when its model is now at its limit.</summary>
    internal async Task<JobSubmission> SubmitPredictAsync(SubmitPredictJob job, TenantCaller caller, ModelAdmissionView? admission,
        CancellationToken cancellationToken)
    {
        var settled = await CheckNewAsync(job.JobId, job.CallbackUrl, caller, cancellationToken);
        if (settled is not null)
        {
            return settled;
        }

        job = job with { Sender = ApiKeyFormat.Credentials(caller.ApiKey, ApiKeyFormat.PredictPurpose, job.JobId) };
        if (SubmissionRules.PredictJobProblem(job, options.Value.MaxInputValues) is { } problem)
        {
            return JobSubmission.Refuse(StatusCodes.Status400BadRequest, "Invalid job", problem);
        }

        var storedModel = Tenants.QualifyModel(caller.TenantId, job.Model);
        if (await models.GetVersionAsync(storedModel, job.ModelVersion, cancellationToken) is not { } version)
        {
            return UnknownModel(job.Model, job.ModelVersion);
        }

        if (RecipeProblem(job.Model, version, job.Text is not null, job.Image is not null) is { } recipeProblem)
        {
            return JobSubmission.Refuse(StatusCodes.Status400BadRequest, "Invalid job", recipeProblem);
        }

        // Admission: a model whose backlog is at its limit refuses at once rather than queueing without bound.
        if ((admission ?? await AdmissionAsync(job.Model, storedModel, cancellationToken)) is { Admitted: false } full)
        {
            return JobSubmission.Refuse(StatusCodes.Status429TooManyRequests, "Model overloaded",
                $"Model {job.Model} has {full.Limit} or more jobs queued, its admission limit; job {job.JobId} was not queued. "
                + $"Retry after {RetryAfterSeconds} s with the same JobId.", RetryAfterSeconds);
        }

        await bus.Publish(job, context =>
        {
            context.MessageId = job.JobId;
            // RabbitMQ message priority; ignored unless the predict queue was declared with x-max-priority.
            context.TrySetPriority(job.Priority == JobPriority.High ? (byte)1 : (byte)0);
        }, cancellationToken);
        return await RecordQueuedAsync(new JobRecord
        {
            JobId = job.JobId,
            TenantId = caller.TenantId,
            Kind = JobKind.Predict,
            Model = storedModel,
            ModelVersion = job.ModelVersion,
            Status = JobStatus.Queued,
            SubmittedAt = job.SubmittedAt,
            CallbackUrl = job.CallbackUrl,
        }, cancellationToken);
    }

    /// <summary>Most texts <see cref="SubmitTextsAsync"/> takes in one call (as OpenAI's embeddings endpoint).</summary>
    public const int MaxTextsPerCall = 2048;

    /// <summary>
    /// Queues one predict job per text, for endpoints that take many texts in one request (OpenAI's <c>/v1/embeddings</c>):
    /// the model version is looked up once (the latest when <paramref name="modelVersion"/> is null) and every job is pinned to
    /// it, so one call never mixes versions; it must have a text recipe (<see cref="RecipeKinds.TakesText"/>). Admission is
    /// decided once for the whole call, and each job gets a new JobId. Nothing is queued when the call is refused.
    /// </summary>
    /// <returns>The job ids in the order of <paramref name="texts"/> and the version they run on; or the refusal (400 for
    /// texts or a model that cannot take them, 404 for an unknown model, 429 at the admission limit). Wait for the jobs with
    /// <see cref="JobCompletionWaiter"/> and read each one's <c>embedding</c> (or <c>label</c>, <c>scores</c>) from its
    /// outputs.</returns>
    public async Task<TextSubmission> SubmitTextsAsync(TenantCaller caller, string model, IReadOnlyList<string> texts, int? modelVersion = null,
        JobPriority priority = JobPriority.Normal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count is 0 or > MaxTextsPerCall)
        {
            return TextSubmission.Refuse(StatusCodes.Status400BadRequest, "Invalid job", $"Give 1 to {MaxTextsPerCall} texts; {texts.Count} were given.");
        }

        var now = timeProvider.GetUtcNow();
        var submitted = new SubmitPredictJob[texts.Count];
        for (var i = 0; i < texts.Count; i++)
        {
            var jobId = Guid.CreateVersion7();
            submitted[i] = new SubmitPredictJob
            {
                JobId = jobId,
                Model = model,
                ModelVersion = modelVersion,
                Text = texts[i] ?? "",
                Priority = priority,
                SubmittedAt = now,
                Sender = ApiKeyFormat.Credentials(caller.ApiKey, ApiKeyFormat.PredictPurpose, jobId),
            };
            if (SubmissionRules.PredictJobProblem(submitted[i], options.Value.MaxInputValues) is { } problem)
            {
                return TextSubmission.Refuse(StatusCodes.Status400BadRequest, "Invalid job", texts.Count == 1 ? problem : $"Text {i}: {problem}");
            }
        }

        var storedModel = Tenants.QualifyModel(caller.TenantId, model);
        if (await models.GetVersionAsync(storedModel, modelVersion, cancellationToken) is not { } version)
        {
            return new TextSubmission { Refusal = UnknownModel(model, modelVersion).Refusal };
        }

        if (RecipeProblem(model, version, text: true, image: false) is { } recipeProblem)
        {
            return TextSubmission.Refuse(StatusCodes.Status400BadRequest, "Invalid job", recipeProblem);
        }

        if (await AdmissionAsync(model, storedModel, cancellationToken) is { Admitted: false } full)
        {
            return TextSubmission.Refuse(StatusCodes.Status429TooManyRequests, "Model overloaded",
                $"Model {model} has {full.Limit} or more jobs queued, its admission limit; no job was queued. Retry after {RetryAfterSeconds} s.", RetryAfterSeconds);
        }

        var queued = submitted.Select(job => job with { ModelVersion = version.Version }).ToArray();
        await Parallel.ForEachAsync(queued, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (job, ct) => await bus.Publish(job, context =>
            {
                context.MessageId = job.JobId;
                context.TrySetPriority(job.Priority == JobPriority.High ? (byte)1 : (byte)0);
            }, ct));

        // Fresh ids: no record can exist yet, unless a fast worker already wrote one, which insert-if-absent keeps.
        await jobs.InsertIfAbsentAsync([.. queued.Select(job => new JobRecord
        {
            JobId = job.JobId,
            TenantId = caller.TenantId,
            Kind = JobKind.Predict,
            Model = storedModel,
            ModelVersion = job.ModelVersion,
            Status = JobStatus.Queued,
            SubmittedAt = job.SubmittedAt,
        })], cancellationToken);
        return new TextSubmission { JobIds = [.. queued.Select(j => j.JobId)], ModelVersion = version.Version };
    }

    /// <summary>Why the version cannot take a job's text or image, or null: text needs a text recipe, an image an image one.
    /// The worker checks the same against the version it runs (the latest may change in between).</summary>
    public static string? RecipeProblem(string model, ModelVersionRecord version, bool text, bool image)
    {
        ArgumentNullException.ThrowIfNull(version);
        var kind = version.Recipe?.Kind;
        var what = text ? "text" : "an image";
        var fits = text ? kind is not null && RecipeKinds.TakesText(kind) : kind == RecipeKinds.ImageClassification;
        if ((!text && !image) || fits)
        {
            return null;
        }

        var recipes = text ? $"{RecipeKinds.TextEmbedding} or {RecipeKinds.TextClassification}" : RecipeKinds.ImageClassification;
        return kind is null
            ? $"Model {model} version {version.Version} has no recipe, so it takes tensors (Features or Inputs), not {what}; register it with {RecipeRules.A(recipes)} {recipes} recipe to send {what}."
            : $"Model {model} version {version.Version} has {RecipeRules.A(kind)} {kind} recipe, which does not take {what}; send it {(text ? "an image" : "text")}, or use a model with {RecipeRules.A(recipes)} {recipes} recipe.";
    }

    /// <summary>Queues a train job for <paramref name="caller"/>; the job's <see cref="SubmitTrainJob.Sender"/> is set here.</summary>
    public async Task<JobSubmission> SubmitTrainAsync(SubmitTrainJob job, TenantCaller caller, CancellationToken cancellationToken)
    {
        var settled = await CheckNewAsync(job.JobId, job.CallbackUrl, caller, cancellationToken);
        if (settled is not null)
        {
            return settled;
        }

        job = job with { Sender = ApiKeyFormat.Credentials(caller.ApiKey, ApiKeyFormat.TrainPurpose, job.JobId) };
        if (SubmissionRules.TrainJobProblem(job, options.Value.MaxInputValues) is { } problem)
        {
            return JobSubmission.Refuse(StatusCodes.Status400BadRequest, "Invalid job", problem);
        }

        if (job.Dataset.FileId is { } fileId)
        {
            switch (await datasets.GetDatasetAsync(caller.TenantId, fileId, cancellationToken))
            {
                case null:
                    return JobSubmission.Refuse(StatusCodes.Status404NotFound, "Unknown dataset", $"No dataset with id '{fileId}' is stored.");
                case { ExpiredAt: { } expiredAt }:
                    return JobSubmission.Refuse(StatusCodes.Status410Gone, "The dataset has expired",
                        $"The content of dataset '{fileId}' was removed under the tenant's retention at {expiredAt:O}.");
            }
        }

        await bus.Publish(job, context => context.MessageId = job.JobId, cancellationToken);
        return await RecordQueuedAsync(new JobRecord
        {
            JobId = job.JobId,
            TenantId = caller.TenantId,
            Kind = JobKind.Train,
            Model = Tenants.QualifyModel(caller.TenantId, job.Model),
            Status = JobStatus.Queued,
            SubmittedAt = job.SubmittedAt,
        }, cancellationToken);
    }

    /// <summary>Asks for the caller's job to be cancelled, as the SDK's <c>CancelJob</c> on the broker does: the command
    /// carries the caller's key proof, and the workers apply it (a queued job never starts, a running train job ends).</summary>
    public Task RequestCancelAsync(Guid jobId, TenantCaller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return bus.Publish(new CancelJob
        {
            JobId = jobId,
            RequestedAt = timeProvider.GetUtcNow(),
            Sender = ApiKeyFormat.Credentials(caller.ApiKey, ApiKeyFormat.CancelPurpose, jobId),
        }, context => context.MessageId = NewId.NextGuid(), cancellationToken);
    }

    /// <summary>The model's backlog against the admission limit. Counting stops at the limit and reads an index on
    /// (model, status), so the question costs at most the backlog's length, whatever the store holds.</summary>
    public async Task<ModelAdmissionView> AdmissionAsync(string model, string storedModel, CancellationToken cancellationToken)
    {
        if (options.Value.MaxQueuedJobsPerModel is not { } limit)
        {
            return new ModelAdmissionView { Model = model, Queued = 0, Admitted = true };
        }

        var queued = await jobs.CountAsync(storedModel, JobStatus.Queued, limit, cancellationToken);
        return new ModelAdmissionView { Model = model, Queued = queued, Limit = limit, Admitted = queued < limit, RetryAfterSeconds = RetryAfterSeconds };
    }

    /// <summary>The outcome for a JobId this tenant already used or a refused callback URL; null when the job may go on.</summary>
    private async Task<JobSubmission?> CheckNewAsync(Guid jobId, string? callbackUrl, TenantCaller caller, CancellationToken cancellationToken)
    {
        if (jobId == Guid.Empty)
        {
            return JobSubmission.Refuse(StatusCodes.Status400BadRequest, "Invalid job", "JobId must not be the empty GUID.");
        }

        if (await jobs.GetAsync(caller.TenantId, jobId, cancellationToken) is { } existing)
        {
            return new JobSubmission { Job = existing };
        }

        return callbackUrl is not null && await callbacks.CheckSubmittedAsync(callbackUrl, "CallbackUrl", cancellationToken) is { } refused
            ? JobSubmission.Refuse(StatusCodes.Status400BadRequest, "Invalid job", refused)
            : null;
    }

    /// <summary>After the publish, so that no queued record exists for a job that never reached the broker; insert-if-absent
    /// under (tenant, id), so it never overwrites a result a fast worker already stored. A repeat of the request now finds the job.</summary>
    private async Task<JobSubmission> RecordQueuedAsync(JobRecord queued, CancellationToken cancellationToken)
    {
        await jobs.InsertIfAbsentAsync([queued], cancellationToken);
        return new JobSubmission { Job = queued, IsNew = true };
    }

    private static JobSubmission UnknownModel(string model, int? version) =>
        JobSubmission.Refuse(StatusCodes.Status404NotFound, "Unknown model", $"No model {model}{(version is { } v ? $" version {v}" : "")} is registered.");
}

/// <summary>What a submission came to: a job queued now (<see cref="IsNew"/>), a job this tenant already has under that
/// JobId, or a <see cref="Refusal"/>.</summary>
public sealed record JobSubmission
{
    /// <summary>The job as recorded; null when refused.</summary>
    public JobRecord? Job { get; init; }
    public bool IsNew { get; init; }
    public SubmissionRefusal? Refusal { get; init; }

    internal static JobSubmission Refuse(int status, string title, string detail, int? retryAfterSeconds = null) =>
        new() { Refusal = new SubmissionRefusal(status, title, detail, retryAfterSeconds) };
}

/// <summary>What <see cref="JobSubmitter.SubmitTextsAsync"/> came to: the new jobs' ids, in the order of the texts, and the
/// model version they run on; or a <see cref="Refusal"/>, with nothing queued.</summary>
public sealed record TextSubmission
{
    public IReadOnlyList<Guid> JobIds { get; init; } = [];
    public int? ModelVersion { get; init; }
    public SubmissionRefusal? Refusal { get; init; }

    internal static TextSubmission Refuse(int status, string title, string detail, int? retryAfterSeconds = null) =>
        new() { Refusal = new SubmissionRefusal(status, title, detail, retryAfterSeconds) };
}

/// <summary>Why a job was not queued: the HTTP status, a short title and a readable reason; for 429, when to retry.</summary>
public sealed record SubmissionRefusal(int Status, string Title, string Detail, int? RetryAfterSeconds = null)
{
    /// <summary>Sets Retry-After where the refusal has one.</summary>
    public void ApplyHeaders(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }
    }
}
