using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>The AIaaS.Queue client: submits jobs to the broker and reads their state from the ResultApi.</summary>
public partial interface IAiaasClient
{
    /// <summary>Submits one predict job and returns its id once the broker has confirmed it (over HTTP: once the ResultApi
    /// has queued it). Throws <see cref="AiaasOverloadedException"/> at the model's admission limit,
    /// <see cref="AiaasPublishException"/> when the job may or may not have been queued (submit it again with the same JobId),
    /// and, over HTTP, <see cref="AiaasApiException"/> with the API's reason for a job it refuses (400 invalid, 404 unknown
    /// model, 401/403 key). JobIds are per tenant: another tenant's use of an id is no refusal.</summary>
    Task<Guid> SubmitPredictAsync(PredictRequest request, CancellationToken cancellationToken = default);

    /// <summary>Submits many predict jobs and returns their ids in order: on the broker, several publishes at a time; over
    /// HTTP, up to 1,000 jobs per <c>POST /v1/jobs/batch</c>. Over HTTP each job is judged alone: when some are refused,
    /// the others are queued and <see cref="AiaasSubmitManyException"/> names every id and each refusal.</summary>
    Task<IReadOnlyList<Guid>> SubmitPredictManyAsync(IEnumerable<PredictRequest> requests, CancellationToken cancellationToken = default);

    /// <summary>The job's current state, or null while it is unknown (not yet registered, or never submitted).</summary>
    Task<JobView?> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Waits until the job is succeeded, failed or cancelled and returns it. Waits share status checks,
    /// so waiting for thousands of jobs costs a few requests per interval, not one per job.</summary>
    Task<JobView> WaitForCompletionAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Waits until every job is succeeded, failed, cancelled or expired and returns them in the order of
    /// <paramref name="jobIds"/>; the waits share status checks. Bound the wait with <paramref name="cancellationToken"/>.</summary>
    Task<IReadOnlyList<JobView>> WaitForAllAsync(IEnumerable<Guid> jobIds, CancellationToken cancellationToken = default);

    /// <summary>The outputs of many jobs, in the order of <paramref name="jobIds"/>, one request per 1,000 ids
    /// (<c>POST /v1/jobs/outputs</c>); null for a job with no output: unknown, another tenant's, or not succeeded.</summary>
    Task<IReadOnlyList<JobOutputView?>> GetOutputsAsync(IEnumerable<Guid> jobIds, CancellationToken cancellationToken = default);

    /// <summary>The outputs of a succeeded job.</summary>
    Task<JobOutputView> GetOutputAsync(Guid jobId, CancellationToken cancellationToken = default);

    /// <summary>Submits, waits and returns the outputs; throws <see cref="JobFailedException"/> when the job fails.</summary>
    Task<PredictResult> PredictAsync(PredictRequest request, CancellationToken cancellationToken = default);

    /// <summary>A page of jobs, newest first.</summary>
    Task<JobPageView> ListJobsAsync(JobStatus? status = null, string? model = null, int limit = 50, string? cursor = null,
        CancellationToken cancellationToken = default);

    /// <summary>Uploads an ONNX file as the next version of <paramref name="name"/>; the server validates it with ONNX Runtime.
    /// <paramref name="batching"/> sets the model's dynamic batching: max batch size and delay, and per input
    /// (<see cref="BatchingSettings.Inputs"/>) the dynamic axes requests may be padded along, the pad value and the largest
    /// shape a request may have, and whether padded batches are grouped by length. The server checks them against the file's
    /// signature and refuses the registration (<see cref="AiaasApiException"/>, 400) with the reason when they do not fit.</summary>
    Task<ModelView> RegisterModelAsync(string name, Stream onnxFile, BatchingSettings? batching = null, string? description = null,
        CancellationToken cancellationToken = default);

    /// <summary>Every registered model version.</summary>
    Task<IReadOnlyList<ModelView>> ListModelsAsync(CancellationToken cancellationToken = default);

    /// <summary>Submits a train job and returns its id once the broker has confirmed it (over HTTP: once the ResultApi has
    /// queued it; an unknown dataset throws <see cref="AiaasApiException"/>, 404). The job id is the
    /// idempotency key: submitting the same id again trains and registers at most one model version.</summary>
    Task<Guid> SubmitTrainAsync(TrainRequest request, CancellationToken cancellationToken = default);

    /// <summary>Uploads a CSV (with a header line) or JSON-lines file for training; use the returned id in
    /// <see cref="TrainingDataset.FileId"/>.</summary>
    Task<DatasetView> UploadDatasetAsync(string name, Stream content, CancellationToken cancellationToken = default);

    /// <summary>A job's history after <paramref name="afterSequence"/>: lifecycle changes and, for train jobs, per-epoch metrics.</summary>
    Task<IReadOnlyList<JobEventView>> GetJobEventsAsync(Guid jobId, long afterSequence = 0, CancellationToken cancellationToken = default);

    /// <summary>Asks for a job to be cancelled: a queued job never starts, a running train job's process is ended within seconds.
    /// Wait for the job to see its final state. Over HTTP an unknown job throws <see cref="AiaasApiException"/> (404); on
    /// the broker the request for it is dropped.</summary>
    Task CancelAsync(Guid jobId, CancellationToken cancellationToken = default);
}
