using System.Text.Json;
using AIaaS.Queue.Contracts;
using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AIaaS.Queue.Producer;

/// <summary>A bus of the SDK's own, so that an application's MassTransit setup and the SDK's broker connection never collide.</summary>
public interface IAiaasBus : IBus;

/// <summary>Where submits go: the broker (<see cref="BusJobPublisher"/>, <see cref="HostBusJobPublisher"/>) or the ResultApi
/// over HTTP (<see cref="HttpJobPublisher"/>). Each throws the SDK's exceptions, and for each the JobId is the idempotency key.</summary>
internal interface IJobPublisher
{
    /// <summary>True when the submission itself is refused at the admission limit (HTTP), so the SDK's advisory check
    /// before publishing is not needed.</summary>
    bool DecidesAdmission { get; }

    Task PublishAsync(SubmitPredictJob job, CancellationToken cancellationToken);

    /// <summary>Publishes many predict jobs; returns once all are taken, or throws.</summary>
    Task PublishManyAsync(IReadOnlyList<SubmitPredictJob> jobs, CancellationToken cancellationToken);

    /// <summary>Publishes any other command; <paramref name="messageId"/> is the job id, as for predict jobs.</summary>
    Task PublishAsync<T>(T message, Guid messageId, CancellationToken cancellationToken) where T : class;
}

/// <summary>Publishes on a bus: the SDK's own RabbitMQ bus, or the host's bus in the embedded default. Predict jobs the
/// broker confirmed are registered as queued a group at a time (<see cref="QueuedJobRegistrar"/>).</summary>
internal sealed class BusJobPublisher(IPublishEndpoint bus, TimeSpan timeout, int maxConcurrency, ILogger logger, int maxMessageBytes = 0)
    : IJobPublisher, IAsyncDisposable
{
    private readonly QueuedJobRegistrar _registrar = new(bus, timeout, logger);

    public bool DecidesAdmission => false;

    public Task PublishManyAsync(IReadOnlyList<SubmitPredictJob> jobs, CancellationToken cancellationToken) =>
        Parallel.ForAsync(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = maxConcurrency, CancellationToken = cancellationToken },
            async (i, ct) => await PublishAsync(jobs[i], ct).ConfigureAwait(false));

    public async Task PublishAsync(SubmitPredictJob job, CancellationToken cancellationToken)
    {
        CheckSize(job);
        await WithinTimeoutAsync(job.JobId, token => bus.Publish(job, context =>
        {
            // Message id = job id: the broker-level duplicate of a retried publish is recognisable downstream.
            context.MessageId = job.JobId;
            Mandatory(context);
            // RabbitMQ message priority; ignored unless the predict queue was declared with x-max-priority.
            context.TrySetPriority(job.Priority == JobPriority.High ? (byte)1 : (byte)0);
        }, token), cancellationToken).ConfigureAwait(false);
        _registrar.Confirmed(job);
    }

    public ValueTask DisposeAsync() => _registrar.DisposeAsync();

    /// <summary>MassTransit's envelope around the message: ids, types, addresses and headers, generously.</summary>
    private const int EnvelopeBytes = 4096;

    /// <summary>A message above the broker's <c>max_message_size</c> is refused by closing the publishing channel, which the
    /// publish only sees as a confirmation that never comes: such a job would fail as "not confirmed" after the whole
    /// publish timeout. So a job that may be that large is measured first (as the wire writes it) and refused at once,
    /// with its size. Small jobs, nearly all, are not serialized twice: the cheap bound below rules them out.</summary>
    private void CheckSize(SubmitPredictJob job)
    {
        if (maxMessageBytes <= 0 || RoughBytes(job) < maxMessageBytes / 2)
        {
            return;
        }

        var bytes = JsonSerializer.SerializeToUtf8Bytes(job, WireJson.Options).LongLength + EnvelopeBytes;
        if (bytes > maxMessageBytes)
        {
            throw AiaasPublishException.TooLarge(job.JobId, bytes, maxMessageBytes);
        }
    }

    /// <summary>An upper bound of the message's size, without serializing it: 24 bytes a number (the longest float or
    /// integer JSON writes), the text's UTF-8 at most 3 bytes a character, the image's base64 as it is.</summary>
    private static long RoughBytes(SubmitPredictJob job)
    {
        long bytes = 24L * (job.Features?.Length ?? 0) + 3L * (job.Text?.Length ?? 0) + (job.Image?.Length ?? 0);
        foreach (var tensor in job.Inputs ?? [])
        {
            bytes += tensor.Shape is { } shape ? 24L * shape.Aggregate(1L, (product, d) => product * Math.Max(1, d)) : 0;
            bytes += tensor.Shape is null && tensor.Data.ValueKind == JsonValueKind.Array ? 24L * tensor.Data.GetArrayLength() : 0;
        }

        return bytes;
    }

    public Task PublishAsync<T>(T message, Guid messageId, CancellationToken cancellationToken) where T : class =>
        WithinTimeoutAsync(messageId, token => bus.Publish(message, context =>
        {
            context.MessageId = messageId;
            Mandatory(context);
        }, token), cancellationToken);

    /// <summary>On RabbitMQ the SDK declares the command exchanges itself, so a publish to a broker or virtual host where no
    /// worker or API ever bound a queue is confirmed and then dropped. Mandatory makes the broker return it instead, and
    /// the publish fails (<see cref="MessageReturnedException"/>).</summary>
    private static void Mandatory(PublishContext context)
    {
        if (context.TryGetPayload<RabbitMqSendContext>(out var rabbit))
        {
            rabbit.Mandatory = true;
        }
    }

    /// <summary>"broker 127.0.0.1:5672, virtual host 'orders'" from a RabbitMQ address, for messages a user acts on.</summary>
    internal static string BrokerOf(Uri? address)
    {
        if (address is null)
        {
            return "the broker";
        }

        var path = address.AbsolutePath.Trim('/');
        var vhost = path.Contains('/', StringComparison.Ordinal) ? path[..path.LastIndexOf('/')] : "";
        vhost = Uri.UnescapeDataString(vhost.Length == 0 ? "/" : vhost);
        return $"broker {address.Host}{(address.IsDefaultPort ? "" : ":" + address.Port)}, virtual host '{vhost}'";
    }

    /// <summary>While the broker is away MassTransit waits for the connection to come back, for as long as the caller's
    /// token allows: without a bound of its own a submit with no token would hang for the whole outage, however long.</summary>
    private async Task WithinTimeoutAsync(Guid jobId, Func<CancellationToken, Task> publish, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            // WaitAsync returns at the limit even if the transport does not observe the token.
            await publish(limit.Token).WaitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AiaasPublishException(jobId, timeout);
        }
        catch (MessageReturnedException ex)
        {
            throw AiaasPublishException.Unroutable(jobId, BrokerOf((bus as IBus)?.Address), ex);
        }
    }
}

/// <summary>Publishes through the host's own bus, resolved at first use so that read-only clients need no bus at all. A host
/// without MassTransit gets <paramref name="fallback"/> (HTTP, with <see cref="AiaasTransport.Auto"/>), or an error when
/// there is none (<see cref="AiaasTransport.Broker"/>).</summary>
internal sealed class HostBusJobPublisher(IServiceProvider services, TimeSpan timeout, int maxConcurrency, Func<IJobPublisher>? fallback)
    : IJobPublisher, IAsyncDisposable
{
    private readonly Lazy<IJobPublisher> _publisher = new(() => (IBus?)services.GetService(typeof(IBus)) is { } bus
        ? new BusJobPublisher(bus, timeout, maxConcurrency,
            ((ILoggerFactory?)services.GetService(typeof(ILoggerFactory)))?.CreateLogger<BusJobPublisher>() ?? NullLogger<BusJobPublisher>.Instance)
        : fallback?.Invoke() ?? throw new AiaasException(
            "No broker to publish to: set AiaasClientOptions.RabbitMqUri, add MassTransit to the host, or use AiaasTransport.Http (or Auto) to submit over HTTP."));

    public bool DecidesAdmission => _publisher.Value.DecidesAdmission;

    public Task PublishAsync(SubmitPredictJob job, CancellationToken cancellationToken) =>
        _publisher.Value.PublishAsync(job, cancellationToken);

    public Task PublishManyAsync(IReadOnlyList<SubmitPredictJob> jobs, CancellationToken cancellationToken) =>
        _publisher.Value.PublishManyAsync(jobs, cancellationToken);

    public Task PublishAsync<T>(T message, Guid messageId, CancellationToken cancellationToken) where T : class =>
        _publisher.Value.PublishAsync(message, messageId, cancellationToken);

    public ValueTask DisposeAsync() =>
        _publisher.IsValueCreated && _publisher.Value is IAsyncDisposable created ? created.DisposeAsync() : ValueTask.CompletedTask;
}
