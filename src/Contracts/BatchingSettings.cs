namespace AIaaS.Queue.Contracts;

/// <summary>Dynamic batching for one model, as Triton's dynamic batcher: a full batch runs at once,
/// a partial batch runs when its oldest request has waited <see cref="MaxQueueDelayMilliseconds"/>.</summary>
public sealed record BatchingSettings
{
    public int? MaxBatchSize { get; init; }
    public double? MaxQueueDelayMilliseconds { get; init; }

    /// <summary>Per input name: which dynamic axes requests may be padded along so that requests of different lengths
    /// share a model call, and bounds on its dynamic dimensions. Inputs not named here batch only with equal shapes.</summary>
    public IReadOnlyDictionary<string, InputBatching>? Inputs { get; init; }

    /// <summary>With padding: form each batch from waiting requests of similar length rather than in arrival order, to
    /// limit wasted padding. Default true.</summary>
    public bool? GroupByLength { get; init; }

    /// <summary>Answer a job whose inputs are identical to a recent job's of the same tenant from the worker's response cache,
    /// without a model call, as Triton's response cache does. Off unless set: only a deterministic model should opt in.</summary>
    public bool? ResponseCache { get; init; }
}
