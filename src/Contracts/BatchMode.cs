using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>How a model's first dimension is served.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BatchMode>))]
public enum BatchMode
{
    /// <summary>Every input's first dimension is dynamic: requests are merged along it, up to the max batch size.</summary>
    Dynamic,

    /// <summary>The first dimension is fixed at 1: one request per model call.</summary>
    FixedOne,

    /// <summary>No batch dimension: each request is the whole tensor, one per model call.</summary>
    None,
}
