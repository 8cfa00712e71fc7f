using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store;

/// <summary>A job as stored: its lifecycle and, once it succeeded, its outputs.</summary>
public sealed record JobRecord
{
    public required Guid JobId { get; init; }

    /// <summary>The tenant the job belongs to (<see cref="Tenants.DefaultTenantId"/> on the open default).</summary>
    public required string TenantId { get; init; }
    public required JobKind Kind { get; init; }
    /// <summary>The stored model name, qualified by the tenant (<see cref="Tenants.QualifyModel"/>).</summary>
    public required string Model { get; init; }
    public int? ModelVersion { get; init; }
    public required JobStatus Status { get; init; }
    public required DateTimeOffset SubmittedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public string? Device { get; init; }
    public int? BatchSize { get; init; }
    public string? BatchId { get; init; }
    public string? WorkerId { get; init; }
    public string? Error { get; init; }

    /// <summary>Where the job's webhook goes, as it was submitted (predict jobs; a train job's is in its stored request).
    /// Webhooks are built from this and the stored status, never from what a broker event says.</summary>
    public string? CallbackUrl { get; init; }

    /// <summary>The job was answered from a worker's response cache (the outputs of an earlier job of the same tenant with
    /// identical inputs), without a model call; it then has no device, batch or batch size.</summary>
    public bool Cached { get; init; }

    /// <summary>The outputs the job asked for (all by default), in the model's order and the Open Inference Protocol's
    /// form; null until the job succeeded (and in listings, which leave outputs out).</summary>
    public IReadOnlyList<InferTensor>? Outputs { get; init; }

    /// <summary>When the retention sweeper dropped the job's outputs (null while it has them): the tombstone that lets a
    /// reader tell "gone" from "never was" until the record itself expires.</summary>
    public DateTimeOffset? PayloadExpiredAt { get; init; }

    /// <summary>The prediction's attributions, for a job that asked for them; null otherwise (and wherever outputs are left out).</summary>
    public Explanation? Explanation { get; init; }

    public bool IsFinal => JobStoreRules.IsFinal(Status);
}
