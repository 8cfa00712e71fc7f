using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Serialization;
using AIaaS.Queue.ServiceDefaults;
using RabbitMQ.Client;

namespace AIaaS.Queue.ResultApi.Dashboard;

/// <summary>Options for the operations endpoints (configuration section <c>Operability</c>).</summary>
public sealed class OperabilityOptions
{
    public const string SectionName = "Operability";

    /// <summary>RabbitMQ's management HTTP API, e.g. <c>http://user:password@rabbit:15672/</c>. Unset: derived from
    /// <c>Transport:RabbitMqUri</c> (same host and credentials, port 15672). Without the plugin, queue depths come
    /// from passive declares of the system's own queues instead (no consumer rates then).</summary>
    public Uri? RabbitMqManagementUrl { get; set; }

    /// <summary>How far back the dashboard's throughput window reaches.</summary>
    public int WindowMinutes { get; set; } = 15;
}

/// <summary>Queue depths and consumers per queue, for the dashboard and for operators' scripts.</summary>
public sealed class QueueInspector : IDisposable
{
    private static readonly string[] OwnQueues = ["predict-jobs", "explain-jobs", "job-registry"];
    private readonly TransportOptions _transport;
    private readonly HttpClient? _management;
    private readonly string _virtualHost = "/";

    public QueueInspector(TransportOptions transport, OperabilityOptions options)
    {
        _transport = transport;
        if (transport.EffectiveKind != TransportKind.RabbitMq || transport.RabbitMqUri is null)
        {
            return;
        }

        var amqp = transport.RabbitMqUri;
        var path = Uri.UnescapeDataString(amqp.AbsolutePath.TrimStart('/'));
        _virtualHost = path.Length == 0 ? "/" : path;
        var management = options.RabbitMqManagementUrl ?? new UriBuilder("http", amqp.Host, 15672) { UserName = amqp.UserInfo.Split(':')[0] }.Uri;
        var userInfo = (options.RabbitMqManagementUrl?.UserInfo).NullIfEmpty() ?? amqp.UserInfo.NullIfEmpty() ?? "guest:guest";
        var user = Uri.UnescapeDataString(userInfo.Split(':')[0]);
        var password = Uri.UnescapeDataString(userInfo.Split(':').ElementAtOrDefault(1) ?? "");
        _management = new HttpClient { BaseAddress = new UriBuilder(management) { UserName = "", Password = "" }.Uri, Timeout = TimeSpan.FromSeconds(5) };
        _management.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
    }

    public async Task<QueuesView> GetQueuesAsync(CancellationToken cancellationToken)
    {
        if (_management is null)
        {
            return new QueuesView
            {
                Source = "in-memory",
                Note = "In-memory transport: jobs wait inside this process, there are no broker queues to show.",
                Queues = [],
            };
        }

        string? managementError;
        try
        {
            var queues = await _management.GetFromJsonAsync<ManagementQueue[]>(
                $"api/queues/{Uri.EscapeDataString(_virtualHost)}",
                cancellationToken).ConfigureAwait(false);
            return new QueuesView
            {
                Source = "rabbitmq-management",
                Queues = [.. queues!
                    .Where(q => q.Name.StartsWith(_transport.EndpointPrefix, StringComparison.Ordinal))
                    .OrderBy(q => q.Name, StringComparer.Ordinal)
                    .Select(q => new QueueView
                    {
                        Name = q.Name,
                        Ready = q.Ready,
                        Unacknowledged = q.Unacknowledged,
                        Consumers = q.Consumers,
                        PublishRate = q.Stats?.Publish?.Rate,
                        DeliverRate = q.Stats?.DeliverGet?.Rate,
                        AckRate = q.Stats?.Ack?.Rate,
                    })],
            };
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException && !cancellationToken.IsCancellationRequested)
        {
            managementError = ex.Message;
        }

        return await DeclarePassivelyAsync(managementError, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Without the management plugin: a passive declare of each of the system's queues gives its depth
    /// and consumer count, exact at that moment.</summary>
    private async Task<QueuesView> DeclarePassivelyAsync(string managementError, CancellationToken cancellationToken)
    {
        var views = new List<QueueView>();
        var factory = new ConnectionFactory { Uri = _transport.RabbitMqUri!, ClientProvidedName = "aiaas-dashboard" };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var name in OwnQueues.SelectMany(q => new[] { q, q + "_error", q + "_skipped" }).Select(q => _transport.EndpointPrefix + q))
        {
            // A passive declare of a missing queue closes the channel, so each queue gets its own.
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            try
            {
                var ok = await channel.QueueDeclarePassiveAsync(name, cancellationToken).ConfigureAwait(false);
                views.Add(new QueueView { Name = name, Ready = ok.MessageCount, Consumers = ok.ConsumerCount });
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                // Not declared yet: no worker has started.
            }
        }

        return new QueuesView
        {
            Source = "rabbitmq-passive",
            Note = $"The management API did not answer ({managementError}); depths come from passive declares.",
            Queues = views,
        };
    }

    public void Dispose() => _management?.Dispose();

    private sealed record ManagementQueue
    {
        [JsonPropertyName("name")] public string Name { get; init; } = "";
        [JsonPropertyName("messages_ready")] public long? Ready { get; init; }
        [JsonPropertyName("messages_unacknowledged")] public long? Unacknowledged { get; init; }
        [JsonPropertyName("consumers")] public long? Consumers { get; init; }
        [JsonPropertyName("message_stats")] public ManagementStats? Stats { get; init; }
    }

    private sealed record ManagementStats
    {
        [JsonPropertyName("publish_details")] public ManagementRate? Publish { get; init; }
        [JsonPropertyName("deliver_get_details")] public ManagementRate? DeliverGet { get; init; }
        [JsonPropertyName("ack_details")] public ManagementRate? Ack { get; init; }
    }

    private sealed record ManagementRate
    {
        [JsonPropertyName("rate")] public double Rate { get; init; }
    }
}

public sealed record QueuesView
{
    /// <summary>rabbitmq-management, rabbitmq-passive or in-memory.</summary>
    public required string Source { get; init; }
    public string? Note { get; init; }
    public required IReadOnlyList<QueueView> Queues { get; init; }
}

public sealed record QueueView
{
    public required string Name { get; init; }
    public long? Ready { get; init; }
    public long? Unacknowledged { get; init; }
    public long? Consumers { get; init; }

    /// <summary>Messages per second, from the management API's last sample.</summary>
    public double? PublishRate { get; init; }
    public double? DeliverRate { get; init; }
    public double? AckRate { get; init; }
}

internal static class StringExtensions
{
    public static string? NullIfEmpty(this string? value) => string.IsNullOrEmpty(value) ? null : value;
}
