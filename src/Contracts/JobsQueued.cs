namespace AIaaS.Queue.Contracts;

/// <summary>
/// Predict jobs whose <see cref="SubmitPredictJob"/> the broker has confirmed, for the job registry to record as queued
/// while they wait. The SDK sends one for every group of submits confirmed while it sent the one before, in place of a copy
/// of every command: the registry then costs one delivery per group instead of one per job. A publisher over plain AMQP
/// may send one too, after its own submits are confirmed; a job never registered is unknown to the API until it has run.
/// </summary>
public sealed record JobsQueued
{
    public required IReadOnlyList<QueuedJob> Jobs { get; init; }
}

/// <summary>One confirmed submit, as <see cref="SubmitPredictJob"/> gave it, without its inputs.</summary>
public sealed record QueuedJob
{
    public required Guid JobId { get; init; }

    public required string Model { get; init; }

    public int? ModelVersion { get; init; }

    public required DateTimeOffset SubmittedAt { get; init; }

    public string? CallbackUrl { get; init; }

    /// <summary>The same credentials as the job's command (bound to its JobId); the registry records nothing for an entry
    /// whose sender does not verify.</summary>
    public TenantCredentials? Sender { get; init; }

    public static QueuedJob Of(SubmitPredictJob job) => new()
    {
        JobId = job.JobId,
        Model = job.Model,
        ModelVersion = job.ModelVersion,
        SubmittedAt = job.SubmittedAt,
        CallbackUrl = job.CallbackUrl,
        Sender = job.Sender,
    };
}
