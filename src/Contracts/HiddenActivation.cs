using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>Activation after each hidden layer of a trained MLP.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<HiddenActivation>))]
public enum HiddenActivation
{
    Relu,
    Tanh,
    Sigmoid,
}
