using System.ComponentModel.DataAnnotations;

namespace AIaaS.Queue.ServiceDefaults;

public enum TransportKind
{
    /// <summary>MassTransit's in-memory transport: one process hosts producers, workers and API.</summary>
    InMemory,

    /// <summary>A RabbitMQ broker or cluster.</summary>
    RabbitMq,
}

/// <summary>Which message transport the process uses (configuration section <c>Transport</c>).</summary>
public sealed class TransportOptions
{
    public const string SectionName = "Transport";

    /// <summary>Null picks RabbitMQ when <see cref="RabbitMqUri"/> is set and the in-memory transport otherwise.</summary>
    public TransportKind? Kind { get; set; }

    /// <summary>For example <c>amqp://user:password@rabbit-1:5672/vhost</c>.</summary>
    public Uri? RabbitMqUri { get; set; }

    /// <summary>Prepended to every queue name, so that several deployments can share a broker.</summary>
    [RegularExpression("^[a-z0-9-]*$")]
    public string EndpointPrefix { get; set; } = "";

    /// <summary>Largest message body a receive endpoint accepts, checked before the message is deserialized: a larger one
    /// goes to the endpoint's error queue unread. Keep it at or below the broker's <c>max_message_size</c>
    /// (scripts/rabbitmq.conf, 16 MiB) and at or above what legal jobs need; larger inputs go by reference (bulk jobs'
    /// uploaded files, training data sets).</summary>
    [Range(1024, 512 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>16 MiB: the broker's bound in this repository's configuration, and the API's request body limit.</summary>
    public const int DefaultMaxMessageBytes = 16 * 1024 * 1024;

    /// <summary>Declare queues as quorum queues (replicated; use on a RabbitMQ cluster).</summary>
    public bool QuorumQueues { get; set; }

    /// <summary>Bound of each <c>_error</c> and <c>_skipped</c> queue, in messages: past it the oldest are dropped, so that a
    /// stream of bad messages cannot fill the broker's disk. 0 leaves them unbounded.</summary>
    [Range(0, int.MaxValue)]
    public int DeadLetterMaxLength { get; set; } = 100_000;

    /// <summary>How long a message stays in an <c>_error</c> or <c>_skipped</c> queue before the broker drops it; zero leaves
    /// them unbounded in time. Default 14 days.</summary>
    public TimeSpan DeadLetterTimeToLive { get; set; } = TimeSpan.FromDays(14);

    public TransportKind EffectiveKind => Kind ?? (RabbitMqUri is null ? TransportKind.InMemory : TransportKind.RabbitMq);
}
