using AIaaS.Queue.Contracts;
using AIaaS.Queue.Training;

namespace AIaaS.Queue.Workers.Training;

/// <summary>What the training child's stdout messages become: job events (the job's stored history) and progress events.</summary>
internal static class ChildMessageMapper
{
    /// <summary>The job event for a <c>loaded</c> or <c>epoch</c> message; null for any other.</summary>
    public static JobEventView? ToJobEvent(ChildMessage message, DateTimeOffset at) => message.Type switch
    {
        ChildMessageTypes.Loaded => new JobEventView
        {
            Sequence = 0,
            Type = JobEventTypes.DataLoaded,
            At = at,
            Message = $"{message.Rows} rows, features {string.Join(", ", message.FeatureColumns ?? [])}"
                + (message.ClassLabels is { } classes ? $", classes {string.Join(", ", classes)}" : ""),
        },
        ChildMessageTypes.Epoch => new JobEventView
        {
            Sequence = 0,
            Type = JobEventTypes.Epoch,
            At = at,
            Epoch = message.Epoch,
            Epochs = message.Epochs,
            TrainLoss = message.TrainLoss,
            ValidationLoss = message.ValidationLoss,
            ValidationAccuracy = message.ValidationAccuracy,
            ValidationRmse = message.ValidationRmse,
            LearningRate = message.LearningRate,
            ElapsedSeconds = message.ElapsedSeconds,
        },
        _ => null,
    };

    /// <summary>The progress event for an <c>epoch</c> message; null for any other.</summary>
    public static TrainingProgressed? ToProgress(Guid jobId, ChildMessage message, DateTimeOffset at) => message.Type != ChildMessageTypes.Epoch ? null : new()
    {
        JobId = jobId,
        Epoch = message.Epoch ?? 0,
        Epochs = message.Epochs ?? 0,
        TrainLoss = message.TrainLoss ?? double.NaN,
        ValidationLoss = message.ValidationLoss ?? double.NaN,
        ValidationAccuracy = message.ValidationAccuracy,
        ValidationRmse = message.ValidationRmse,
        LearningRate = message.LearningRate ?? 0,
        ElapsedSeconds = message.ElapsedSeconds ?? 0,
        At = at,
    };

    /// <summary>A final message: the attempt's result.</summary>
    public static bool IsResult(ChildMessage message) => message.Type is ChildMessageTypes.Succeeded or ChildMessageTypes.Failed;
}
