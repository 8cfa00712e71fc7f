using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Producer;

internal sealed partial class AiaasClient(
    HttpClient http,
    IJobPublisher publisher,
    CompletionWatcher watcher,
    ModelAdmission admission,
    IOptions<AiaasClientOptions> options,
    TimeProvider time) : IAiaasClient
{
    public async Task<Guid> SubmitPredictAsync(PredictRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var job = PredictJob(request, time.GetUtcNow());
        if (!publisher.DecidesAdmission)
        {
            await admission.EnsureAdmittedAsync(request.Model, cancellationToken).ConfigureAwait(false);
        }

        await publisher.PublishAsync(job, cancellationToken).ConfigureAwait(false);
        return job.JobId;
    }

    private SubmitPredictJob PredictJob(PredictRequest request, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            throw new ArgumentException("Model is required.", nameof(request));
        }

        if (request.TimeToLive is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentException("TimeToLive, when given, must be positive.", nameof(request));
        }

        var jobId = request.JobId ?? Guid.CreateVersion7();
        return new SubmitPredictJob
        {
            JobId = jobId,
            Model = request.Model,
            ModelVersion = request.ModelVersion,
            Features = request.Features,
            Inputs = request.Inputs,
            Text = request.Text,
            Image = request.Image is { } image ? Convert.ToBase64String(image) : null,
            Outputs = request.Outputs?.Select(name => new RequestedOutput { Name = name }).ToArray(),
            Explain = request.Explain,
            CallbackUrl = CallbackFor(request.CallbackUrl),
            Priority = request.Priority,
            ExpiresAt = now + request.TimeToLive,
            SubmittedAt = now,
            Sender = ApiKeyFormat.Credentials(options.Value.ApiKey, ApiKeyFormat.PredictPurpose, jobId),
        };
    }

    public async Task<IReadOnlyList<Guid>> SubmitPredictManyAsync(IEnumerable<PredictRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var now = time.GetUtcNow();
        var jobs = requests.Select(r => PredictJob(r ?? throw new ArgumentException("A request is null.", nameof(requests)), now)).ToArray();
        if (!publisher.DecidesAdmission)
        {
            // Admission is decided once, up front, per model: either the whole call is refused, or every job is published.
            foreach (var model in jobs.Select(j => j.Model).Distinct(StringComparer.Ordinal))
            {
                await admission.EnsureAdmittedAsync(model, cancellationToken).ConfigureAwait(false);
            }
        }

        await publisher.PublishManyAsync(jobs, cancellationToken).ConfigureAwait(false);
        return [.. jobs.Select(j => j.JobId)];
    }

    public async Task<JobView?> GetJobAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        using var response = await http.GetAsync($"v1/jobs/{jobId}", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        return await ReadAsync<JobView>(response, cancellationToken).ConfigureAwait(false);
    }

    public Task<JobView> WaitForCompletionAsync(Guid jobId, CancellationToken cancellationToken = default) =>
        watcher.WaitAsync(jobId, cancellationToken);

    public async Task<IReadOnlyList<JobView>> WaitForAllAsync(IEnumerable<Guid> jobIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobIds);
        // One watcher serves every wait: the jobs are looked up together, a few requests per interval however many there are.
        return await Task.WhenAll(jobIds.Select(id => watcher.WaitAsync(id, cancellationToken))).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<JobOutputView?>> GetOutputsAsync(IEnumerable<Guid> jobIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobIds);
        var ids = jobIds.ToArray();
        var found = new Dictionary<Guid, JobOutputView>();
        foreach (var chunk in ids.Distinct().Chunk(MaxOutputsPerRequest))
        {
            using var response = await http.PostAsJsonAsync("v1/jobs/outputs", new JobLookupRequest { Ids = chunk }, WireJson.Options, cancellationToken)
                .ConfigureAwait(false);
            foreach (var output in (await ReadAsync<JobOutputsView>(response, cancellationToken).ConfigureAwait(false)).Outputs)
            {
                found[output.Id] = output;
            }
        }

        return [.. ids.Select(id => found.GetValueOrDefault(id))];
    }

    /// <summary>The ResultApi's limit for one <c>POST /v1/jobs/outputs</c>.</summary>
    private const int MaxOutputsPerRequest = 1000;

    public async Task<JobOutputView> GetOutputAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        using var response = await http.GetAsync($"v1/jobs/{jobId}/output", cancellationToken).ConfigureAwait(false);
        return await ReadAsync<JobOutputView>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<PredictResult> PredictAsync(PredictRequest request, CancellationToken cancellationToken = default)
    {
        var jobId = await SubmitPredictAsync(request, cancellationToken).ConfigureAwait(false);
        var job = await WaitForCompletionAsync(jobId, cancellationToken).ConfigureAwait(false);
        if (job.Status != JobStatus.Succeeded)
        {
            throw new JobFailedException(job);
        }

        var output = await GetOutputAsync(jobId, cancellationToken).ConfigureAwait(false);
        return new PredictResult(job, output.Outputs.ToDictionary(o => o.Name, StringComparer.Ordinal)) { Explanation = output.Explanation };
    }

    public async Task<JobPageView> ListJobsAsync(JobStatus? status = null, string? model = null, int limit = 50, string? cursor = null,
        CancellationToken cancellationToken = default)
    {
        var query = new List<string> { $"limit={limit}" };
        if (status is not null)
        {
            query.Add($"status={status}");
        }

        if (model is not null)
        {
            query.Add($"model={Uri.EscapeDataString(model)}");
        }

        if (cursor is not null)
        {
            query.Add($"cursor={Uri.EscapeDataString(cursor)}");
        }

        using var response = await http.GetAsync($"v1/jobs?{string.Join('&', query)}", cancellationToken).ConfigureAwait(false);
        return await ReadAsync<JobPageView>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ModelView> RegisterModelAsync(string name, Stream onnxFile, BatchingSettings? batching = null, string? description = null,
        CancellationToken cancellationToken = default)
    {
        using var content = new StreamContent(onnxFile);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await http.PutAsync(RegistrationUri(name, batching, description), content, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<ModelView>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>v1/models/{name}</c> with the batching settings and description in the query.</summary>
    private static string RegistrationUri(string name, BatchingSettings? batching, string? description)
    {
        var query = new List<string>();
        if (batching?.MaxBatchSize is { } size)
        {
            query.Add($"maxBatchSize={size}");
        }

        if (batching?.MaxQueueDelayMilliseconds is { } delay)
        {
            query.Add(FormattableString.Invariant($"maxQueueDelayMs={delay}"));
        }

        if (InputBatchingSyntax.FormatPad(batching?.Inputs) is { } pad)
        {
            query.Add($"pad={Uri.EscapeDataString(pad)}");
        }

        if (InputBatchingSyntax.FormatMaxShape(batching?.Inputs) is { } maxShape)
        {
            query.Add($"maxShape={Uri.EscapeDataString(maxShape)}");
        }

        if (batching?.GroupByLength is { } group)
        {
            query.Add(group ? "groupByLength=true" : "groupByLength=false");
        }

        if (batching?.ResponseCache is { } cache)
        {
            query.Add(cache ? "responseCache=true" : "responseCache=false");
        }

        if (description is not null)
        {
            query.Add($"description={Uri.EscapeDataString(description)}");
        }

        return $"v1/models/{Uri.EscapeDataString(name)}" + (query.Count > 0 ? "?" + string.Join('&', query) : "");
    }

    public async Task<IReadOnlyList<ModelView>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        using var response = await http.GetAsync("v1/models", cancellationToken).ConfigureAwait(false);
        return await ReadAsync<List<ModelView>>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Guid> SubmitTrainAsync(TrainRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Model))
        {
            throw new ArgumentException("Model is required.", nameof(request));
        }

        if (string.IsNullOrWhiteSpace(request.LabelColumn))
        {
            throw new ArgumentException("LabelColumn is required.", nameof(request));
        }

        ArgumentNullException.ThrowIfNull(request.Dataset, nameof(request.Dataset));
        var jobId = request.JobId ?? Guid.CreateVersion7();
        await publisher.PublishAsync(new SubmitTrainJob
        {
            JobId = jobId,
            Model = request.Model,
            Dataset = request.Dataset,
            LabelColumn = request.LabelColumn,
            FeatureColumns = request.FeatureColumns,
            Task = request.Task,
            Architecture = request.Architecture ?? new TrainingArchitecture(),
            Hyperparameters = request.Hyperparameters ?? new TrainingHyperparameters(),
            TimeoutSeconds = request.Timeout?.TotalSeconds ?? 3600,
            CallbackUrl = CallbackFor(request.CallbackUrl),
            SubmittedAt = time.GetUtcNow(),
            Sender = ApiKeyFormat.Credentials(options.Value.ApiKey, ApiKeyFormat.TrainPurpose, jobId),
        }, jobId, cancellationToken).ConfigureAwait(false);
        return jobId;
    }

    public async Task<DatasetView> UploadDatasetAsync(string name, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var body = new StreamContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var response = await http.PostAsync($"v1/datasets?name={Uri.EscapeDataString(name)}", body, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<DatasetView>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<JobEventView>> GetJobEventsAsync(Guid jobId, long afterSequence = 0, CancellationToken cancellationToken = default)
    {
        using var response = await http.GetAsync($"v1/jobs/{jobId}/events?after={afterSequence}", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }

        return await ReadAsync<List<JobEventView>>(response, cancellationToken).ConfigureAwait(false);
    }

    public Task CancelAsync(Guid jobId, CancellationToken cancellationToken = default) =>
        publisher.PublishAsync(new CancelJob
        {
            JobId = jobId,
            RequestedAt = time.GetUtcNow(),
            Sender = ApiKeyFormat.Credentials(options.Value.ApiKey, ApiKeyFormat.CancelPurpose, jobId),
        }, Guid.NewGuid(), cancellationToken);

    private string? CallbackFor(Uri? requested)
    {
        var url = requested ?? options.Value.DefaultCallbackUrl;
        if (url is null)
        {
            return null;
        }

        // The system checks the target (private addresses and so on); the scheme is wrong everywhere, so fail early.
        return url.IsAbsoluteUri && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
            ? url.AbsoluteUri
            : throw new ArgumentException($"A callback URL must be an absolute http or https URL: {url}");
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ApiProblem.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }

        return await response.Content.ReadFromJsonAsync<T>(WireJson.Options, cancellationToken).ConfigureAwait(false)
            ?? throw new AiaasException($"The ResultApi answered {response.RequestMessage?.RequestUri} with an empty body.");
    }
}
