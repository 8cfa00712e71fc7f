using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// A predict job's request for an explanation: per-feature attributions by Kernel SHAP over the model version's background
/// data. On the wire <c>"explain": true</c> asks with the defaults and an object sets the options
/// (<see cref="ExplainOptionsJsonConverter"/>).
/// </summary>
[JsonConverter(typeof(ExplainOptionsJsonConverter))]
public sealed record ExplainOptions
{
    /// <summary>Models with at most this many features are explained exactly (every coalition); larger ones by sampling.</summary>
    public const int MaxExactFeatures = 12;

    /// <summary>The most coalitions one explanation may ask for.</summary>
    public const int MaxSamples = 100_000;

    /// <summary>Coalitions to sample; null for every coalition up to <see cref="MaxExactFeatures"/> features and
    /// 2048 + 2 × features above. A number below the count of all coalitions samples even a small model.</summary>
    public int? Samples { get; init; }

    /// <summary>Seed of the coalition sampling: the same seed gives the same attributions. Null means 0.</summary>
    public int? Seed { get; init; }
}
