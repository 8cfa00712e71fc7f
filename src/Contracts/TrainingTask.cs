using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>What a train job learns: a class out of two, a class out of several, or a number.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TrainingTask>))]
public enum TrainingTask
{
    MulticlassClassification,
    BinaryClassification,
    Regression,
}
