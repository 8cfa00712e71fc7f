using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>A succeeded prediction: the job as stored and its outputs by model output name.</summary>
public sealed record PredictResult(JobView Job, IReadOnlyDictionary<string, TensorValue> Outputs);
