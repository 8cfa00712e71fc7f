using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

internal sealed partial class AiaasClient
{
    private static IEnumerable<string> ExplainQuery(ExplainOptions explain)
    {
        if (explain.Samples is { } samples)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"explainSamples={samples}");
        }

        if (explain.Seed is { } seed)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"explainSeed={seed}");
        }
    }

    public async Task<BulkJobView> SubmitBulkAsync(BulkScoreRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var query = new List<string>
        {
            $"model={Uri.EscapeDataString(request.Model)}",
            $"id={request.BulkJobId ?? Guid.CreateVersion7()}",
        };
        if (request.ModelVersion is { } version)
        {
            query.Add(string.Create(CultureInfo.InvariantCulture, $"version={version}"));
        }

        if (request.Format is { } format)
        {
            query.Add($"format={format}");
        }

        if (request.ChunkSize is { } chunkSize)
        {
            query.Add(string.Create(CultureInfo.InvariantCulture, $"chunkSize={chunkSize}"));
        }

        if (CallbackFor(request.CallbackUrl) is { } callback)
        {
            query.Add($"callbackUrl={Uri.EscapeDataString(callback)}");
        }

        if (request.CompletionWindow is { } window)
        {
            query.Add(string.Create(CultureInfo.InvariantCulture, $"completionWindowSeconds={window.TotalSeconds}"));
        }

        if (request.Explain is { } explain)
        {
            query.Add("explain=true");
            query.AddRange(ExplainQuery(explain));
        }

        using var body = new StreamContent(request.Input, 1 << 16);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var message = new HttpRequestMessage(HttpMethod.Post, $"v1/batches?{string.Join('&', query)}") { Content = body };
        // The upload can take a while; the timeout belongs to the caller's token, not to the client's default.
        using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<BulkJobView>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<BulkJobView?> GetBulkAsync(Guid bulkJobId, CancellationToken cancellationToken = default)
    {
        using var response = await http.GetAsync($"v1/batches/{bulkJobId}", cancellationToken).ConfigureAwait(false);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync<BulkJobView>(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<BulkJobView> WaitForBulkAsync(Guid bulkJobId, IProgress<BulkJobView>? progress = null, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var job = await GetBulkAsync(bulkJobId, cancellationToken).ConfigureAwait(false)
                ?? throw new AiaasException($"Bulk job {bulkJobId} is not known to the ResultApi.");
            progress?.Report(job);
            if (job.IsFinal)
            {
                return job;
            }

            await Task.Delay(options.Value.BulkPollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task DownloadBulkResultsAsync(Guid bulkJobId, Stream destination, bool errors = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var response = await http.GetAsync($"v1/batches/{bulkJobId}/{(errors ? "errors" : "output")}", HttpCompletionOption.ResponseHeadersRead,
            cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            await ReadAsync<object>(response, cancellationToken).ConfigureAwait(false); // throws with the server's reason
        }

        await response.Content.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    public async Task<BulkJobView> CancelBulkAsync(Guid bulkJobId, CancellationToken cancellationToken = default)
    {
        using var response = await http.PostAsync($"v1/batches/{bulkJobId}/cancel", null, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<BulkJobView>(response, cancellationToken).ConfigureAwait(false);
    }
}
