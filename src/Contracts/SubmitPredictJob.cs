using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// Command: run one prediction. Workers merge many of these into one model call (dynamic batching).
/// </summary>
public sealed record SubmitPredictJob
{
    /// <summary>Client-chosen or SDK-generated id; also the idempotency key: a repeated id yields one job.</summary>
    public required Guid JobId { get; init; }

    /// <summary>Registered model name.</summary>
    public required string Model { get; init; }

    /// <summary>Model version; null means the latest version when the worker picks the job up.</summary>
    public int? ModelVersion { get; init; }

    /// <summary>Shorthand for a model with a single float input: one record, flattened, without the batch dimension.</summary>
    public float[]? Features { get; init; }

    /// <summary>The request's tensors by input name, in the Open Inference Protocol's form (any datatype, the whole shape,
    /// batch dimension first). Use either this or <see cref="Features"/>. The map of float arrays that earlier versions
    /// took is still read.</summary>
    [JsonConverter(typeof(InferInputsJsonConverter))]
    public IReadOnlyList<InferTensor>? Inputs { get; init; }

    /// <summary>Text for a model registered with a text recipe (<see cref="RecipeKinds"/>): the worker tokenizes it into the
    /// model's inputs. Use instead of <see cref="Features"/> and <see cref="Inputs"/>.</summary>
    public string? Text { get; init; }

    /// <summary>An image (PNG, JPEG or WebP bytes, base64-encoded) for a model registered with an image recipe: the worker
    /// decodes, resizes and normalizes it. Kept as text on the wire so that bad base64 fails this job alone, with a reason.</summary>
    public string? Image { get; init; }

    /// <summary>The outputs to compute and store; null or empty for all of the model's outputs.</summary>
    public IReadOnlyList<RequestedOutput>? Outputs { get; init; }

    /// <summary>Asks for per-feature attributions of the prediction (Kernel SHAP), stored with the job; tabular models only
    /// (one float vector input) with background data. <c>true</c> on the wire asks with the defaults.</summary>
    public ExplainOptions? Explain { get; init; }

    /// <summary>Where to POST a signed event when the job reaches its final state (Standard Webhooks); null for none.</summary>
    public string? CallbackUrl { get; init; }

    /// <summary>When a job still queued at this time ends <see cref="JobStatus.Expired"/> without running; null never expires.
    /// Compared with the worker's clock.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>High-priority jobs are served before normal ones; see the worker's batcher for the rule that keeps normal jobs moving.</summary>
    public JobPriority Priority { get; init; }

    public required DateTimeOffset SubmittedAt { get; init; }

    /// <summary>The sending tenant and proof of its API key; null on the open embedded default (the default tenant).</summary>
    public TenantCredentials? Sender { get; init; }
}
