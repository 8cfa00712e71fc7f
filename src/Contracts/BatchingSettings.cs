namespace AIaaS.Queue.Contracts;

/// <summary>Dynamic batching for one model, as Triton's dynamic batcher: a full batch runs at once,
/// a partial batch runs when its oldest request has waited <see cref="MaxQueueDelayMilliseconds"/>.</summary>
public sealed record BatchingSettings
{
    public int? MaxBatchSize { get; init; }
    public double? MaxQueueDelayMilliseconds { get; init; }
}
