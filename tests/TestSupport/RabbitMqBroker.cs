using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Testcontainers.RabbitMq;

namespace AIaaS.Queue.TestSupport;

/// <summary>
/// The real broker for the tests: <c>AIAAS_TEST_RABBITMQ</c> when given, a Testcontainers broker where Docker runs,
/// otherwise the local broker the test script started. Never skipped: without a broker these tests fail.
/// Each fixture gets a virtual host of its own (through the management API) so that test classes run side by side.
/// </summary>
public sealed class RabbitMqBroker : IAsyncDisposable
{
    private RabbitMqContainer? _container;
    private HttpClient? _management;
    private Uri _root = null!;
    private readonly List<string> _users = [];

    public string VirtualHost { get; } = $"aiaas-test-{Guid.NewGuid():N}"[..24];

    /// <summary>amqp URI of this fixture's virtual host.</summary>
    public Uri Uri { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var configured = Environment.GetEnvironmentVariable("AIAAS_TEST_RABBITMQ");
        Uri managementUri;
        if (!string.IsNullOrEmpty(configured))
        {
            _root = new Uri(configured);
            managementUri = new Uri(Environment.GetEnvironmentVariable("AIAAS_TEST_RABBITMQ_MANAGEMENT") ?? $"http://{_root.Host}:15672/");
        }
        else if (DockerAvailable())
        {
            _container = new RabbitMqBuilder("rabbitmq:3.13-management").WithPortBinding(15672, true).Build();
            await _container.StartAsync();
            _root = new Uri(_container.GetConnectionString());
            managementUri = new Uri($"http://{_container.Hostname}:{_container.GetMappedPublicPort(15672)}/");
        }
        else
        {
            _root = new Uri("amqp://guest:guest@127.0.0.1:5672/");
            managementUri = new Uri("http://127.0.0.1:15672/");
        }

        var user = Uri.UnescapeDataString(_root.UserInfo.Split(':')[0]);
        var password = Uri.UnescapeDataString(_root.UserInfo.Split(':').ElementAtOrDefault(1) ?? "");
        if (user.Length == 0)
        {
            (user, password) = ("guest", "guest");
        }

        _management = new HttpClient { BaseAddress = managementUri, Timeout = TimeSpan.FromSeconds(30) };
        _management.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        (await _management.PutAsync($"api/vhosts/{VirtualHost}", null)).EnsureSuccessStatusCode();
        (await _management.PutAsJsonAsync($"api/permissions/{VirtualHost}/{Uri.EscapeDataString(user)}",
            new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        Uri = new UriBuilder(_root) { UserName = Uri.EscapeDataString(user), Password = Uri.EscapeDataString(password), Path = "/" + VirtualHost }.Uri;
    }

    /// <summary>Creates a broker user with <paramref name="password"/> and full rights on this virtual host (removed with the
    /// fixture), and returns this virtual host's URI with those credentials.</summary>
    public Task<Uri> CreateUserAsync(string user, string password, CancellationToken cancellationToken) =>
        CreateUserAsync(user, password, new BrokerPermissions(".*", ".*", ".*"), "", cancellationToken);

    /// <summary>Creates a broker user with <paramref name="permissions"/> on this virtual host (removed with the fixture), and
    /// returns this virtual host's URI with its credentials.</summary>
    public async Task<Uri> CreateUserAsync(string user, string password, BrokerPermissions permissions, string tags, CancellationToken cancellationToken)
    {
        var management = _management!;
        (await management.PutAsJsonAsync($"api/users/{Uri.EscapeDataString(user)}", new { password, tags }, cancellationToken)).EnsureSuccessStatusCode();
        (await management.PutAsJsonAsync($"api/permissions/{VirtualHost}/{Uri.EscapeDataString(user)}",
            new { configure = permissions.Configure, write = permissions.Write, read = permissions.Read }, cancellationToken)).EnsureSuccessStatusCode();
        if (permissions.TopicExchange is { } exchange)
        {
            (await management.PutAsJsonAsync($"api/topic-permissions/{VirtualHost}/{Uri.EscapeDataString(user)}",
                new { exchange, write = permissions.TopicWrite, read = permissions.TopicRead }, cancellationToken)).EnsureSuccessStatusCode();
        }

        _users.Add(user);
        return new UriBuilder(Uri) { UserName = Uri.EscapeDataString(user), Password = Uri.EscapeDataString(password) }.Uri;
    }

    /// <summary>A queue's counts from the management API (they lag the broker by up to a few seconds).</summary>
    public async Task<QueueCounts> GetQueueAsync(string queue, CancellationToken cancellationToken)
    {
        var response = await _management!.GetAsync($"api/queues/{VirtualHost}/{queue}", cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<QueueCounts>(cancellationToken))!;
    }

    /// <summary>Where an exchange routes to: the names of the exchanges and queues bound to it.</summary>
    public async Task<IReadOnlyList<string>> GetBindingDestinationsAsync(string exchange, CancellationToken cancellationToken)
    {
        var response = await _management!.GetAsync($"api/exchanges/{VirtualHost}/{Uri.EscapeDataString(exchange)}/bindings/source", cancellationToken);
        response.EnsureSuccessStatusCode();
        var bindings = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement[]>(cancellationToken);
        return [.. bindings!.Select(b => b.GetProperty("destination").GetString()!)];
    }

    /// <summary>Messages ready in a queue right now (a passive declare: no lag, unlike the management statistics).</summary>
    public async Task<uint> GetReadyCountAsync(string queue, CancellationToken cancellationToken)
    {
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = Uri };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        return (await channel.QueueDeclarePassiveAsync(queue, cancellationToken)).MessageCount;
    }

    public async ValueTask DisposeAsync()
    {
        if (_management is not null)
        {
            await _management.DeleteAsync($"api/vhosts/{VirtualHost}");
            foreach (var user in _users)
            {
                await _management.DeleteAsync($"api/users/{Uri.EscapeDataString(user)}");
            }

            _management.Dispose();
        }

        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    internal static bool DockerAvailable() =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DOCKER_HOST")) || File.Exists("/var/run/docker.sock");
}

public sealed record QueueCounts
{
    [System.Text.Json.Serialization.JsonPropertyName("messages_ready")]
    public long MessagesReady { get; init; }

    [System.Text.Json.Serialization.JsonPropertyName("messages_unacknowledged")]
    public long MessagesUnacknowledged { get; init; }

    [System.Text.Json.Serialization.JsonPropertyName("consumers")]
    public int Consumers { get; init; }

    [System.Text.Json.Serialization.JsonPropertyName("message_stats")]
    public QueueMessageStats? MessageStats { get; init; }
}

/// <summary>A queue's message counts since it was declared (the management API's <c>message_stats</c>).</summary>
public sealed record QueueMessageStats
{
    /// <summary>Messages routed into the queue.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("publish")]
    public long Published { get; init; }
}

/// <summary>A RabbitMQ user's configure, write and read patterns on one virtual host.</summary>
/// <summary>A user's configure, write and read patterns on the virtual host and, when <see cref="TopicExchange"/> is set, its
/// topic permissions there (the routing keys it may publish with and bind with).</summary>
public sealed record BrokerPermissions(string Configure, string Write, string Read)
{
    public string? TopicExchange { get; init; }

    public string TopicWrite { get; init; } = ".*";

    public string TopicRead { get; init; } = ".*";
}
