using System.Text.Json;
using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// JSON settings every side of the wire shares. NaN and infinities travel as the strings "NaN", "Infinity" and
/// "-Infinity", so that a record holding one reaches the worker and fails its own job with a reason, rather than
/// failing to serialize somewhere on the way.
/// </summary>
public static class WireJson
{
    public const JsonNumberHandling NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;

    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web) { NumberHandling = NumberHandling };
}
