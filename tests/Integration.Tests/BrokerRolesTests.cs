using System.Diagnostics;
using System.Security.Cryptography;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.TestSupport;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The broker system with each process on its own least-privilege broker user: the API, the workers and the SDK clients
/// get exactly the permissions <c>scripts/rabbitmq-users.sh</c> gives them (read from that script), on this fixture's
/// virtual host.
/// </summary>
public sealed class BrokerRolesSystem : DistributedSystem
{
    /// <summary>The tenant of the script's per-tenant client role (<c>--tenant</c>) in this fixture.</summary>
    public const string Tenant = "beta";

    public IReadOnlyDictionary<string, BrokerPermissions> Roles { get; } = ScriptRoles.Load();
    public Uri ClientUri { get; private set; } = null!;
    public Uri WorkersUri { get; private set; } = null!;
    public Uri TenantClientUri { get; private set; } = null!;

    protected override async Task<BrokerRoles> ConnectBrokerRolesAsync(CancellationToken cancellationToken)
    {
        static string Password() => "pw-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var api = await Broker.CreateUserAsync($"api-{Broker.VirtualHost}", Password(), Roles["api"], "monitoring", cancellationToken);
        WorkersUri = await Broker.CreateUserAsync($"workers-{Broker.VirtualHost}", Password(), Roles["workers"], "", cancellationToken);
        ClientUri = await Broker.CreateUserAsync($"client-{Broker.VirtualHost}", Password(), Roles["client"], "", cancellationToken);
        TenantClientUri = await Broker.CreateUserAsync($"client-{Tenant}-{Broker.VirtualHost}", Password(), Roles["tenant"], "", cancellationToken);
        return new BrokerRoles(api, WorkersUri, ClientUri);
    }

    /// <summary>The patterns as the script computes them: its pattern block, evaluated by bash.</summary>
    private static class ScriptRoles
    {
        public static IReadOnlyDictionary<string, BrokerPermissions> Load()
        {
            var script = Path.Combine(RepositoryRoot(), "scripts", "rabbitmq-users.sh");
            var start = new ProcessStartInfo("bash")
            {
                ArgumentList =
                {
                    "-c",
                    $"set -eu; p=''; tenant={Tenant}; eval \"$(sed -n '/---- the patterns/,/---- end of patterns/p' \"$1\")\"; "
                    + "for r in client workers api tenant; do for k in configure write read; do v=\"${r}_${k}\"; printf '%s\\n' \"${!v}\"; done; done; "
                    + "printf '%s\\n' \"$client_topic_read\" \"$tenant_topic_read\"",
                    "bash",
                    script,
                },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var bash = Process.Start(start)!;
            var lines = bash.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            bash.WaitForExit();
            if (bash.ExitCode != 0 || lines.Length != 14)
            {
                throw new InvalidOperationException($"Could not read the patterns of {script}: {bash.StandardError.ReadToEnd()}");
            }

            // As the script's set_topic_permissions: no key to publish with on the clients' exchange, only its tenant's to bind.
            return new Dictionary<string, BrokerPermissions>
            {
                ["client"] = new(lines[0], lines[1], lines[2]) { TopicExchange = ClientEventRouting.ExchangeName, TopicWrite = "^$", TopicRead = lines[12] },
                ["workers"] = new(lines[3], lines[4], lines[5]),
                ["api"] = new(lines[6], lines[7], lines[8]),
                ["tenant"] = new(lines[9], lines[10], lines[11]) { TopicExchange = ClientEventRouting.ExchangeName, TopicWrite = "^$", TopicRead = lines[13] },
            };
        }

        private static string RepositoryRoot()
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "AIaaS.Queue.sln")))
                {
                    return directory.FullName;
                }
            }

            throw new InvalidOperationException("The repository root (AIaaS.Queue.sln) was not found above the test's folder.");
        }
    }
}

/// <summary>Least-privilege broker users: the system runs end to end on them, and each role is refused what it must not do.</summary>
public sealed class BrokerRolesTests(BrokerRolesSystem system) : IClassFixture<BrokerRolesSystem>
{
    private static readonly float[] Record = [0.5f, -1.25f, 3f, 2f];

    [Fact]
    public async Task AClientUserSubmitsJobsAndHearsTheirCompletionButCannotPublishACompletionEventNorReadAWorkerQueue()
    {
        var ct = TestTimeout.After(120);
        var model = TestModels.UniqueName("roles");
        await system.Client.RegisterModelAsync(model, new MemoryStream(TestModels.Classifier(seed: 5).Onnx), cancellationToken: ct);

        // The SDK on the client user: publish the command, hear its completion on its own queue.
        var result = await system.Client.PredictAsync(new PredictRequest { Model = model, Features = Record }, ct);
        Assert.Equal(JobStatus.Succeeded, result.Job.Status);

        // A refused command is dead-lettered on the workers' user (the error queue, its fault event).
        await system.ClientBus.Publish(new SubmitPredictJob
        {
            JobId = Guid.NewGuid(), Model = model, Features = Record, SubmittedAt = DateTimeOffset.UtcNow,
            Sender = new TenantCredentials { TenantId = "alpha" },
        }, ct);
        for (var i = 0; await ErrorCountAsync("predict-jobs_error", ct) < 1; i++)
        {
            Assert.True(i < 150, "Not dead-lettered:\n" + string.Join("\n", system.Workers.Select(w => w.Output)));
            await Task.Delay(100, ct);
        }

        Assert.DoesNotContain("ACCESS_REFUSED", string.Join("\n", system.Workers.Select(w => w.Output)), StringComparison.Ordinal);

        // The same user cannot publish a completion event, nor consume the workers' queue.
        Assert.Equal(403, await PublishRefusalAsync(system.ClientUri, "AIaaS.Queue.Contracts:PredictBatchCompleted", ct));
        Assert.Equal(403, await PublishRefusalAsync(system.ClientUri, "AIaaS.Queue.Contracts:JobFailed", ct));
        Assert.Equal(403, await ConsumeRefusalAsync(system.ClientUri, "predict-jobs", ct));
        Assert.Equal(403, await ConsumeRefusalAsync(system.ClientUri, "webhook-events", ct));

        // Through MassTransit too: the publish is not confirmed.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeSpan.FromSeconds(15));
        await Assert.ThrowsAnyAsync<Exception>(() => system.ClientBus.Publish(new JobFailed
        {
            JobId = result.Job.Id, Kind = JobKind.Predict, Model = model, Error = "forged", FailedAt = DateTimeOffset.UtcNow,
        }, limit.Token));
    }

    [Fact]
    public async Task ATenantsClientUserBindsOnlyItsOwnTenantsEventsAndReadsOnlyItsOwnQueues()
    {
        var ct = TestTimeout.After(60);
        // The API binds the events into the clients' exchange at start-up; by now it exists.
        var own = $"aiaas-client-{BrokerRolesSystem.Tenant}-{Guid.NewGuid():N}";
        Assert.Equal(0, await BindRefusalAsync(system.TenantClientUri, own, ClientEventRouting.ExchangeName, BrokerRolesSystem.Tenant, ct));

        // Another tenant's key, every key, the events' own fanout exchange, another tenant's queue name: all refused.
        Assert.Equal(403, await BindRefusalAsync(system.TenantClientUri, own, ClientEventRouting.ExchangeName, "alpha", ct));
        Assert.Equal(403, await BindRefusalAsync(system.TenantClientUri, own, ClientEventRouting.ExchangeName, "#", ct));
        Assert.Equal(403, await BindRefusalAsync(system.TenantClientUri, own, "AIaaS.Queue.Contracts:PredictBatchCompleted", "", ct));
        Assert.Equal(403, await BindRefusalAsync(system.TenantClientUri, own, "AIaaS.Queue.Contracts:JobFailed", "", ct));
        Assert.Equal(403, await BindRefusalAsync(system.TenantClientUri, $"aiaas-client-alpha-{Guid.NewGuid():N}", ClientEventRouting.ExchangeName, "alpha", ct));

        // The default tenant's shared client user is held to its own key the same way.
        Assert.Equal(403, await BindRefusalAsync(system.ClientUri, $"aiaas-client-default-{Guid.NewGuid():N}", ClientEventRouting.ExchangeName, BrokerRolesSystem.Tenant, ct));
    }

    [Fact]
    public async Task AWorkerUserCannotPublishACommand()
    {
        var ct = TestTimeout.After(60);
        Assert.Equal(403, await PublishRefusalAsync(system.WorkersUri, "AIaaS.Queue.Contracts:SubmitPredictJob", ct));
        Assert.Equal(403, await ConsumeRefusalAsync(system.WorkersUri, "webhook-events", ct));
    }

    private async Task<uint> ErrorCountAsync(string queue, CancellationToken ct)
    {
        try
        {
            return await system.Broker.GetReadyCountAsync(queue, ct);
        }
        catch (OperationInterruptedException)
        {
            return 0; // not declared until its first error
        }
    }

    /// <summary>Publishes an empty message to <paramref name="exchange"/> as the URI's user and returns the reply code the
    /// broker closed the channel with (0: it accepted the message).</summary>
    private static async Task<int> PublishRefusalAsync(Uri uri, string exchange, CancellationToken ct)
    {
        var factory = new ConnectionFactory { Uri = uri };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), ct);
        try
        {
            await channel.BasicPublishAsync(exchange, "", mandatory: false, new BasicProperties(), ReadOnlyMemory<byte>.Empty, ct);
        }
        catch (Exception ex) when (ex is OperationInterruptedException or AlreadyClosedException or PublishException)
        {
        }

        for (var i = 0; i < 50 && channel.IsOpen; i++)
        {
            await Task.Delay(100, ct);
        }

        return channel.CloseReason?.ReplyCode ?? 0;
    }

    /// <summary>Declares <paramref name="queue"/> (exclusive) as the URI's user and binds it to <paramref name="exchange"/> with
    /// <paramref name="key"/>; returns the reply code the broker refused either with (0: both were allowed).</summary>
    private static async Task<int> BindRefusalAsync(Uri uri, string queue, string exchange, string key, CancellationToken ct)
    {
        var factory = new ConnectionFactory { Uri = uri };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            await channel.QueueDeclareAsync(queue, durable: false, exclusive: true, autoDelete: true, cancellationToken: ct);
            await channel.QueueBindAsync(queue, exchange, key, cancellationToken: ct);
            return 0;
        }
        catch (OperationInterruptedException ex)
        {
            return ex.ShutdownReason?.ReplyCode ?? -1;
        }
    }

    private static async Task<int> ConsumeRefusalAsync(Uri uri, string queue, CancellationToken ct)
    {
        var factory = new ConnectionFactory { Uri = uri };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            await channel.BasicConsumeAsync(queue, autoAck: false, new AsyncEventingBasicConsumer(channel), ct);
            return 0;
        }
        catch (OperationInterruptedException ex)
        {
            return ex.ShutdownReason?.ReplyCode ?? -1;
        }
    }
}
