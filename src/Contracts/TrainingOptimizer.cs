using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<TrainingOptimizer>))]
public enum TrainingOptimizer
{
    Adam,

    /// <summary>Stochastic gradient descent with momentum (<see cref="TrainingHyperparameters.Momentum"/>).</summary>
    Sgd,
}
