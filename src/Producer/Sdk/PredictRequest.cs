using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>One prediction to run.</summary>
public sealed record PredictRequest
{
    /// <summary>Registered model name.</summary>
    public required string Model { get; init; }

    /// <summary>Model version; null runs the latest version.</summary>
    public int? ModelVersion { get; init; }

    /// <summary>Shorthand for a model with one FP32 input of fixed shape: one record, without the batch dimension.</summary>
    public float[]? Features { get; init; }

    /// <summary>Named tensors of any datatype and shape, batch dimension first where the model has one (the Open
    /// Inference Protocol's form); build them with <see cref="Tensors"/>. Give the record in exactly one way: this,
    /// <see cref="Features"/>, <see cref="Text"/> or <see cref="Image"/>.</summary>
    public IReadOnlyList<InferTensor>? Inputs { get; init; }

    /// <summary>Text for a model registered with a text recipe (<see cref="RecipeKinds.TextEmbedding"/>,
    /// <see cref="RecipeKinds.TextClassification"/>): the worker tokenizes it. Use instead of <see cref="Features"/> and
    /// <see cref="Inputs"/>.</summary>
    public string? Text { get; init; }

    /// <summary>An image (PNG, JPEG or WebP file bytes) for a model registered with an image recipe
    /// (<see cref="RecipeKinds.ImageClassification"/>): the worker decodes, resizes and normalizes it. The SDK sends it
    /// base64-encoded. Use instead of <see cref="Features"/> and <see cref="Inputs"/>.</summary>
    public byte[]? Image { get; init; }

    /// <summary>Names of the outputs to compute and store; null for all of the model's outputs.</summary>
    public IReadOnlyList<string>? Outputs { get; init; }

    /// <summary>Asks for per-feature attributions of the prediction (Kernel SHAP over the model version's background data),
    /// returned in <see cref="PredictResult.Explanation"/>; <c>new ExplainOptions()</c> for the defaults. Tabular models
    /// only (one float vector input); any other model fails the job with the reason.</summary>
    public ExplainOptions? Explain { get; init; }

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
