using System.Net;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>
/// Submits over HTTP to the ResultApi, for clients with no broker access: <c>POST /v1/jobs</c> for one job,
/// <c>POST /v1/jobs/batch</c> for many (in requests of <see cref="MaxJobsPerRequest"/>), <c>POST /v1/jobs/{id}/cancel</c>.
/// The API checks and queues each job as it would a broker publish from the SDK, with the caller's key as the sender.
/// </summary>
/// <remarks>
/// The guarantees are the broker path's: every request carries its jobs' ids, so a request repeated after no answer queues
/// each job at most once. No answer within <paramref name="timeout"/>, no connection or a 5xx throws
/// <see cref="AiaasPublishException"/> (the job may or may not be queued); a 429 throws <see cref="AiaasOverloadedException"/>
/// with the API's Retry-After; every other refusal throws <see cref="AiaasApiException"/> with the API's reason.
/// </remarks>
internal sealed class HttpJobPublisher(HttpClient http, TimeSpan timeout) : IJobPublisher
{
    /// <summary>The ResultApi's limit for one <c>POST /v1/jobs/batch</c>.</summary>
    public const int MaxJobsPerRequest = 1000;

    /// <summary>Batch requests in flight at once: enough to overlap the round trips, few enough to leave the API room.</summary>
    private const int RequestConcurrency = 4;

    public bool DecidesAdmission => true;

    public async Task PublishAsync(SubmitPredictJob job, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(job.JobId, "v1/jobs", PredictBody(job), cancellationToken).ConfigureAwait(false);
        await EnsureTakenAsync(response, job.JobId, job.Model, cancellationToken).ConfigureAwait(false);
    }

    public async Task PublishAsync<T>(T message, Guid messageId, CancellationToken cancellationToken) where T : class
    {
        var (jobId, model, uri, body) = message switch
        {
            SubmitTrainJob train => (train.JobId, train.Model, "v1/jobs", (object?)TrainBody(train)),
            CancelJob cancel => (cancel.JobId, "", $"v1/jobs/{cancel.JobId}/cancel", null),
            _ => throw new NotSupportedException($"{typeof(T).Name} cannot be submitted over HTTP."),
        };
        using var response = await SendAsync(jobId, uri, body, cancellationToken).ConfigureAwait(false);
        await EnsureTakenAsync(response, jobId, model, cancellationToken).ConfigureAwait(false);
    }

    public async Task PublishManyAsync(IReadOnlyList<SubmitPredictJob> jobs, CancellationToken cancellationToken)
    {
        var refusals = new System.Collections.Concurrent.ConcurrentDictionary<Guid, AiaasException>();
        await Parallel.ForEachAsync(jobs.Chunk(MaxJobsPerRequest), new ParallelOptions { MaxDegreeOfParallelism = RequestConcurrency, CancellationToken = cancellationToken },
            async (chunk, ct) =>
            {
                using var response = await SendAsync(chunk[0].JobId, "v1/jobs/batch", new SubmitJobBatchRequest { Jobs = [.. chunk.Select(PredictBody)] }, ct).ConfigureAwait(false);
                await EnsureTakenAsync(response, chunk[0].JobId, chunk[0].Model, ct).ConfigureAwait(false);
                var batch = await response.Content.ReadFromJsonAsync<JobBatchView>(WireJson.Options, ct).ConfigureAwait(false)
                    ?? throw AiaasPublishException.Unanswered(chunk[0].JobId, "answered a batch with an empty body", null);
                foreach (var (item, job) in batch.Items.Zip(chunk))
                {
                    if (item.Status is not ((int)HttpStatusCode.Accepted or (int)HttpStatusCode.OK))
                    {
                        refusals[job.JobId] = Refusal((HttpStatusCode)item.Status, item.Title, item.Detail, job.Model, item.RetryAfterSeconds);
                    }
                }
            }).ConfigureAwait(false);

        if (!refusals.IsEmpty)
        {
            // In the callers' order, so that "the first" refusal is the first refused job.
            var ordered = jobs.Where(j => refusals.ContainsKey(j.JobId)).ToDictionary(j => j.JobId, j => refusals[j.JobId]);
            throw new AiaasSubmitManyException([.. jobs.Select(j => j.JobId)], ordered);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(Guid jobId, string uri, object? body, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            return await http.PostAsJsonAsync(uri, body, WireJson.Options, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw AiaasPublishException.Unanswered(jobId, $"at {http.BaseAddress} did not answer within {timeout.TotalSeconds:0.#} s", ex);
        }
        catch (HttpRequestException ex)
        {
            throw AiaasPublishException.Unanswered(jobId, $"at {http.BaseAddress} could not be reached ({ex.Message})", ex);
        }
    }

    private static async Task EnsureTakenAsync(HttpResponseMessage response, Guid jobId, string model, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var problem = await ApiProblem.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        if ((int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.RequestTimeout)
        {
            throw AiaasPublishException.Unanswered(jobId, $"failed ({problem.Message})", problem);
        }

        var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? (int?)delta.TotalSeconds : null;
        throw Refusal(response.StatusCode, problem.Title, problem.Detail, model, retryAfter);
    }

    private static AiaasException Refusal(HttpStatusCode status, string? title, string? detail, string model, int? retryAfterSeconds) =>
        status == HttpStatusCode.TooManyRequests
            ? new AiaasOverloadedException(model, TimeSpan.FromSeconds(retryAfterSeconds ?? 1), detail ?? "The model's backlog is at its admission limit.")
            : new AiaasApiException(status, title, detail);

    /// <summary>The body of <c>POST /v1/jobs</c> for the predict command the SDK built.</summary>
    private static SubmitJobRequest PredictBody(SubmitPredictJob job) => new()
    {
        Kind = JobKind.Predict,
        JobId = job.JobId,
        Model = job.Model,
        ModelVersion = job.ModelVersion,
        Features = job.Features,
        Inputs = job.Inputs,
        Text = job.Text,
        Image = job.Image,
        Explain = job.Explain,
        Outputs = job.Outputs,
        CallbackUrl = job.CallbackUrl,
        Priority = job.Priority,
        TimeToLiveSeconds = job.ExpiresAt is { } expires ? (expires - job.SubmittedAt).TotalSeconds : null,
    };

    /// <summary>The body of <c>POST /v1/jobs</c> for the train command the SDK built.</summary>
    private static SubmitJobRequest TrainBody(SubmitTrainJob job) => new()
    {
        Kind = JobKind.Train,
        JobId = job.JobId,
        Model = job.Model,
        Dataset = job.Dataset,
        LabelColumn = job.LabelColumn,
        FeatureColumns = job.FeatureColumns,
        Task = job.Task,
        Architecture = job.Architecture,
        Hyperparameters = job.Hyperparameters,
        TimeoutSeconds = job.TimeoutSeconds,
        CallbackUrl = job.CallbackUrl,
    };
}
