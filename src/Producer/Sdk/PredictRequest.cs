using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>One prediction to run.</summary>
public sealed record PredictRequest
{
    /// <summary>Registered model name.</summary>
    public required string Model { get; init; }

    /// <summary>Model version; null runs the latest version.</summary>
    public int? ModelVersion { get; init; }

    /// <summary>One record for a single-input model, without the batch dimension.</summary>
    public float[]? Features { get; init; }

    /// <summary>One record for a multi-input model, by input name.</summary>
    public IReadOnlyDictionary<string, float[]>? Inputs { get; init; }

    /// <summary>Where to POST a signed event when the job finishes; null uses <see cref="AiaasClientOptions.DefaultCallbackUrl"/>.</summary>
    public Uri? CallbackUrl { get; init; }

    /// <summary>High-priority jobs overtake normal ones waiting for the same model; normal ones are never starved.</summary>
    public JobPriority Priority { get; init; }

    /// <summary>How long the job may wait in the queue; a job not started by then ends <see cref="JobStatus.Expired"/>
    /// without running. Null waits as long as it takes.</summary>
    public TimeSpan? TimeToLive { get; init; }

    /// <summary>Idempotency key: submitting the same id twice yields one job. Null lets the SDK choose one.</summary>
    public Guid? JobId { get; init; }
}
