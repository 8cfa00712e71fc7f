using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>Where the SDK publishes jobs and where it reads their results.</summary>
public sealed class AiaasClientOptions
{
    /// <summary>Base address of the ResultApi, which serves job status, outputs and the model registry.</summary>
    public Uri ApiUrl { get; set; } = new("http://127.0.0.1:5080");

    /// <summary>The broker to publish jobs to, for example <c>amqp://user:password@rabbit:5672/</c>.
    /// Leave null to publish through the MassTransit bus already configured in the host (the embedded default).</summary>
    public Uri? RabbitMqUri { get; set; }

    /// <summary>How jobs are submitted: <see cref="AiaasTransport.Auto"/> (the default) takes the broker when there is one
    /// (<see cref="RabbitMqUri"/>, or the host's MassTransit bus) and HTTP otherwise. The broker is for high throughput
    /// inside the cluster; HTTP needs only the API's address and key.</summary>
    public AiaasTransport Transport { get; set; } = AiaasTransport.Auto;

    /// <summary>The tenant's API key (<c>aiaas_{tenant}_...</c>, from the admin API), sent as <c>Authorization: Bearer</c>
    /// to the ResultApi; commands on the broker carry the tenant and a proof of the key, never the key. Null on the open
    /// embedded default, where everything belongs to the default tenant.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Where the system POSTs a signed Standard Webhooks event when a job this client submits reaches its final
    /// state, unless the request names its own <c>CallbackUrl</c>. Null: no webhook.</summary>
    public Uri? DefaultCallbackUrl { get; set; }

    /// <summary>First interval between status checks while waiting; it doubles up to <see cref="MaxPollInterval"/>
    /// while nothing finishes and drops back when something does.</summary>
    public TimeSpan MinPollInterval { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Listen for completion events on the broker (a temporary queue of this client's own), so that a wait ends as
    /// soon as its job's result is stored rather than at the next status check. The queue is bound to this client's own
    /// tenant's events only (the tenant of <see cref="ApiKey"/>): every client then receives one event per model batch of
    /// its tenant; turn it off for very many clients that rarely wait.</summary>
    public bool CompletionEvents { get; set; } = true;

    /// <summary>Whether the SDK opens a broker connection of its own.</summary>
    internal bool OwnsBrokerConnection => RabbitMqUri is not null && Transport != AiaasTransport.Http;

    /// <summary>The tenant <see cref="ApiKey"/> names; null for none (the default tenant).</summary>
    internal string? TenantId => ApiKeyFormat.Parse(ApiKey)?.TenantId;

    /// <summary>How long the SDK trusts the ResultApi's answer to "does this model take jobs now" before asking again
    /// (see <c>ResultApi:MaxQueuedJobsPerModel</c>); zero turns the check off.</summary>
    public TimeSpan AdmissionCheckInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Interval between status checks while waiting for a bulk job: one small request each, and the end of a
    /// short job is seen within it.</summary>
    public TimeSpan BulkPollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest interval between status checks while waiting.</summary>
    public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a submit waits for the broker to confirm a job, including any wait for the SDK's broker connection
    /// to come back after an outage (over HTTP: for the ResultApi to answer a submit request). Past it the submit throws
    /// <see cref="AiaasPublishException"/> instead of waiting for ever; the job may or may not have been queued, and submitting it again with the same JobId (its idempotency key)
    /// is safe.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The broker's largest message (RabbitMQ's <c>max_message_size</c>; 16 MiB in this repository's configuration).
    /// A job that would be larger is refused at once with <see cref="AiaasPublishException"/> naming its size, instead of
    /// waiting out <see cref="PublishTimeout"/> for a confirmation the broker never sends. 0 turns the check off.</summary>
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Publishes in flight at once when submitting many jobs (each awaits the broker's confirmation); over HTTP,
    /// jobs go in requests of up to 1,000 each, a few requests at a time.</summary>
    public int MaxPublishConcurrency { get; set; } = 64;
}
