using System.Diagnostics;
using System.Net;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Webhooks;

/// <summary>
/// Sends scheduled webhook deliveries, signed per Standard Webhooks, at least once. Deliveries are claimed from the
/// store with a lease, so several API instances share the work and a restarted instance resumes what a dead one held.
/// Only 2xx is success; 410 Gone stops at once; anything else is retried with exponential backoff and jitter, or after
/// the receiver's Retry-After, up to <see cref="WebhookOptions.MaxAttempts"/>.
/// </summary>
public sealed class WebhookDispatcher : BackgroundService
{
    private const int ClaimLimit = 32;
    private readonly IWebhookStore _store;
    private readonly WebhookOptions _options;
    private readonly CallbackUrlPolicy _policy;
    private readonly AiaasMetrics? _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly HttpClient _http;
    private readonly IReadOnlyList<byte[]> _keys;
    private readonly SemaphoreSlim _wake = new(0, 1);

    public WebhookDispatcher(IWebhookStore store, IOptions<WebhookOptions> options, CallbackUrlPolicy policy, TimeProvider time,
        ILogger<WebhookDispatcher> logger, IServiceProvider services)
    {
        _store = store;
        _options = options.Value;
        _policy = policy;
        _time = time;
        _logger = logger;
        _metrics = services.GetService<AiaasMetrics>();
        _keys = _options.SigningKeys();
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = policy.ConnectAsync,
            // A redirect would reach a target the policy never saw; receivers must answer at the URL they gave.
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            UseProxy = false,
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("AIaaS.Queue-Webhooks/1");
    }

    /// <summary>Looks for due deliveries now rather than at the next poll.</summary>
    public void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                var now = _time.GetUtcNow();
                // The lease outlasts one attempt, so a delivery is only due again if its sender died.
                var due = await _store.ClaimDueWebhooksAsync(now, _options.AttemptTimeout + TimeSpan.FromSeconds(30), ClaimLimit, stoppingToken)
                    .ConfigureAwait(false);
                if (due.Count > 0)
                {
                    await Task.WhenAll(due.Select(d => SendAsync(d, stoppingToken))).ConfigureAwait(false);
                    continue;
                }

                var next = await _store.NextWebhookDueAsync(stoppingToken).ConfigureAwait(false);
                wait = next is { } at ? TimeSpan.FromTicks(Math.Clamp((at - _time.GetUtcNow()).Ticks, 0, _options.PollInterval.Ticks)) : _options.PollInterval;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Webhook dispatch round failed; trying again shortly");
                wait = _options.PollInterval;
            }

            try
            {
                await _wake.WaitAsync(wait, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task SendAsync(WebhookDelivery delivery, CancellationToken stoppingToken)
    {
        var number = delivery.Attempts.Count + 1;
        var started = _time.GetUtcNow();
        var stopwatch = Stopwatch.StartNew();
        int? statusCode = null;
        string? error;
        TimeSpan? retryAfter = null;
        try
        {
            if (_policy.CheckSyntax(delivery.Url) is { } refused)
            {
                await RecordAsync(delivery, number, started, null, 0, refused, WebhookDeliveryState.Failed, started, "gave_up").ConfigureAwait(false);
                return;
            }

            var timestamp = started.ToUnixTimeSeconds();
            using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
            {
                Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("webhook-id", delivery.Id);
            request.Headers.Add("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", WebhookSigner.Sign(_keys, delivery.Id, timestamp, delivery.Payload));

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(_options.AttemptTimeout);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            statusCode = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                await RecordAsync(delivery, number, started, statusCode, stopwatch.Elapsed.TotalMilliseconds, null, WebhookDeliveryState.Delivered,
                    started, "delivered").ConfigureAwait(false);
                return;
            }

            if (response.StatusCode == HttpStatusCode.Gone)
            {
                await RecordAsync(delivery, number, started, statusCode, stopwatch.Elapsed.TotalMilliseconds,
                    "The receiver answered 410 Gone: no further attempts.", WebhookDeliveryState.Failed, started, "gave_up").ConfigureAwait(false);
                return;
            }

            error = $"The receiver answered {statusCode}.";
            retryAfter = response.Headers.RetryAfter switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - _time.GetUtcNow(),
                _ => null,
            };
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return; // shutting down: the lease runs out and another sender (or this one, restarted) tries again
        }
        catch (OperationCanceledException)
        {
            error = $"No answer within {_options.AttemptTimeout.TotalSeconds:0.###} s.";
        }
        catch (HttpRequestException ex) when (ex.GetBaseException() is CallbackRefusedException refused)
        {
            await RecordAsync(delivery, number, started, null, stopwatch.Elapsed.TotalMilliseconds, refused.Message, WebhookDeliveryState.Failed,
                started, "gave_up").ConfigureAwait(false);
            return;
        }
        catch (HttpRequestException ex)
        {
            error = ex.InnerException is { } inner ? $"{ex.Message} ({inner.Message})" : ex.Message;
        }

        var latency = stopwatch.Elapsed.TotalMilliseconds;
        if (number >= _options.MaxAttempts)
        {
            await RecordAsync(delivery, number, started, statusCode, latency, error + $" Gave up after {number} attempts.", WebhookDeliveryState.Failed,
                started, "gave_up").ConfigureAwait(false);
            return;
        }

        var delay = retryAfter is { } asked ? TimeSpan.FromTicks(Math.Clamp(asked.Ticks, 0, _options.MaxBackoff.Ticks)) : Backoff(number);
        await RecordAsync(delivery, number, started, statusCode, latency, error, WebhookDeliveryState.Pending, _time.GetUtcNow() + delay, "failed")
            .ConfigureAwait(false);
    }

    /// <summary>Exponential with "equal jitter": half the doubled delay fixed, half random, so retries of many receivers spread out.</summary>
    private TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_options.InitialBackoff.Ticks * Math.Pow(2, attempt - 1), _options.MaxBackoff.Ticks);
        return TimeSpan.FromTicks((long)(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2));
    }

    private async Task RecordAsync(WebhookDelivery delivery, int number, DateTimeOffset at, int? statusCode, double latency, string? error,
        WebhookDeliveryState state, DateTimeOffset next, string outcome)
    {
        _metrics?.WebhookAttempted(outcome);
        if (state != WebhookDeliveryState.Delivered)
        {
            _logger.LogInformation("Webhook {DeliveryId} attempt {Attempt}: {Error} ({State})", delivery.Id, number, error, state);
        }

        // Not the stopping token: an attempt that was made is recorded even while the host shuts down.
        await _store.RecordWebhookAttemptAsync(delivery.Id,
            new WebhookAttemptView { Number = number, At = at, StatusCode = statusCode, LatencyMilliseconds = latency, Error = error },
            state, next, CancellationToken.None).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _http.Dispose();
        _wake.Dispose();
        base.Dispose();
    }
}
