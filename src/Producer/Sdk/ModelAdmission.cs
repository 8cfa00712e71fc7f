using System.Net;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Producer;

/// <summary>
/// Admission for jobs the SDK publishes straight to the broker: before publishing for a model, ask the ResultApi whether
/// the model's backlog is at its limit (<c>GET /v1/models/{name}/admission</c>, the rule <c>POST /v1/jobs</c> applies),
/// and refuse at once with <see cref="AiaasOverloadedException"/> when it is. Answers are kept for
/// <see cref="AiaasClientOptions.AdmissionCheckInterval"/>, so a stream of submits costs one request per model per interval.
/// The check is advisory: should the API not answer, jobs are published (the broker holds them), never dropped.
/// </summary>
internal sealed class ModelAdmission(HttpClient http, IOptions<AiaasClientOptions> options, TimeProvider time, ILogger<ModelAdmission> logger)
    : IDisposable
{
    private readonly MemoryCache _answers = new(new MemoryCacheOptions { Clock = new TimeProviderClock(time) });

    public async Task EnsureAdmittedAsync(string model, CancellationToken cancellationToken)
    {
        if (options.Value.AdmissionCheckInterval <= TimeSpan.Zero)
        {
            return;
        }

        if (!_answers.TryGetValue(model, out Answer? answer))
        {
            answer = new Answer(await AskAsync(model, cancellationToken).ConfigureAwait(false));
            _answers.Set(model, answer, options.Value.AdmissionCheckInterval);
        }

        if (answer!.View is { Admitted: false } refused)
        {
            throw new AiaasOverloadedException(model, refused.Queued, refused.Limit, TimeSpan.FromSeconds(refused.RetryAfterSeconds));
        }
    }

    public void Dispose() => _answers.Dispose();

    /// <summary>A cached answer; its view is null when the API did not answer (then jobs are published).</summary>
    private sealed record Answer(ModelAdmissionView? View);

    private async Task<ModelAdmissionView?> AskAsync(string model, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.GetAsync($"v1/models/{Uri.EscapeDataString(model)}/admission", cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return null; // an invalid name: the worker fails the job with the reason
            }

            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                // The key is wrong (mistyped, revoked) or no tenant's: the workers would refuse the job unseen and dead-letter
                // it, and the caller would wait for a job that never appears. Said now, with the API's reason.
                throw await ApiProblem.ReadAsync(response, cancellationToken).ConfigureAwait(false);
            }

            response.EnsureSuccessStatusCode();
            return await response.Content.ReadFromJsonAsync<ModelAdmissionView>(WireJson.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            logger.LogWarning(ex, "Could not ask the ResultApi whether model {Model} takes jobs; publishing anyway", model);
            return null;
        }
    }
}
