using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>How soon a predict job is served relative to others waiting for the same model.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<JobPriority>))]
public enum JobPriority
{
    Normal,

    /// <summary>Overtakes normal jobs in the broker queue and in the worker's batcher.</summary>
    High,
}
