using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>The body of <c>POST /v1/jobs</c>: a predict job (the default <see cref="Kind"/>) or a train job, with the
/// fields of <see cref="SubmitPredictJob"/> or <see cref="SubmitTrainJob"/>. JobId is optional; give one to make
/// retries of the request safe. The SDK's HTTP transport sends the same record.</summary>
public sealed record SubmitJobRequest
{
    public JobKind Kind { get; init; } = JobKind.Predict;

    public Guid? JobId { get; init; }
    public string? Model { get; init; }
    public string? CallbackUrl { get; init; }

    // predict
    public int? ModelVersion { get; init; }
    public float[]? Features { get; init; }

    /// <summary>The request's tensors in the Open Inference Protocol's form; a map of float arrays is read too.</summary>
    [JsonConverter(typeof(InferInputsJsonConverter))]
    public IReadOnlyList<InferTensor>? Inputs { get; init; }

    /// <summary>The outputs to compute and store; all when none are named.</summary>
    public IReadOnlyList<RequestedOutput>? Outputs { get; init; }
    /// <summary>Text for a model registered with a text recipe; use instead of Features and Inputs.</summary>
    public string? Text { get; init; }

    /// <summary>An image (PNG, JPEG or WebP), base64-encoded, for a model registered with an image recipe.</summary>
    public string? Image { get; init; }

    /// <summary>Per-feature attributions of the prediction: <c>true</c>, or <c>{"samples": .., "seed": ..}</c>.</summary>
    public ExplainOptions? Explain { get; init; }

    public JobPriority Priority { get; init; }

    /// <summary>Seconds the job may wait queued; one not started by then ends <c>Expired</c> without running.</summary>
    public double? TimeToLiveSeconds { get; init; }

    // train
    public TrainingDataset? Dataset { get; init; }
    public string? LabelColumn { get; init; }
    public IReadOnlyList<string>? FeatureColumns { get; init; }
    public TrainingTask? Task { get; init; }
    public TrainingArchitecture? Architecture { get; init; }
    public TrainingHyperparameters? Hyperparameters { get; init; }
    public double? TimeoutSeconds { get; init; }
}
