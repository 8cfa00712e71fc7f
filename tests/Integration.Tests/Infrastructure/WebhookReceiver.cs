using System.Collections.Concurrent;
using AIaaS.Queue.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Integration.Tests.Infrastructure;

/// <summary>A real HTTP receiver on a loopback port. Each path answers from its own script of status codes (the last
/// one repeats; 200 when none is set) and keeps every request it received.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Script> _scripts = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<ReceivedWebhook>> _received = new();

    private WebhookReceiver(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var receiver = new WebhookReceiver(builder.Build());
        receiver._app.MapPost("/{name}", receiver.HandleAsync);
        await receiver._app.StartAsync(cancellationToken);
        receiver.Address = receiver._app.GetAddress();
        return receiver;
    }

    /// <summary>A fresh path answering <paramref name="statuses"/> in turn; <paramref name="retryAfterSeconds"/> goes with non-2xx answers.</summary>
    public Uri NewEndpoint(int[]? statuses = null, int? retryAfterSeconds = null)
    {
        var name = Guid.NewGuid().ToString("N");
        _scripts[name] = new Script(statuses ?? [200], retryAfterSeconds);
        return new Uri(Address, name);
    }

    public IReadOnlyList<ReceivedWebhook> Received(Uri endpoint) =>
        _received.TryGetValue(endpoint.AbsolutePath.Trim('/'), out var queue) ? queue.ToArray() : [];

    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(Uri endpoint, int count, CancellationToken cancellationToken)
    {
        while (Received(endpoint).Count < count)
        {
            await Task.Delay(50, cancellationToken);
        }

        return Received(endpoint);
    }

    private async Task HandleAsync(string name, HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        var queue = _received.GetOrAdd(name, _ => new ConcurrentQueue<ReceivedWebhook>());
        queue.Enqueue(new ReceivedWebhook(DateTimeOffset.UtcNow, headers, body));
        var script = _scripts.GetValueOrDefault(name) ?? new Script([404], null);
        var status = script.Statuses[Math.Min(queue.Count - 1, script.Statuses.Length - 1)];
        if (status >= 300 && script.RetryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        context.Response.StatusCode = status;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed record Script(int[] Statuses, int? RetryAfterSeconds);
}

public sealed record ReceivedWebhook(DateTimeOffset At, IReadOnlyDictionary<string, string> Headers, string Body);
