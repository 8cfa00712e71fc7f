using System.Text.Json;
using System.Text.Json.Serialization;

namespace AIaaS.Queue.Store;

internal static class StoreJson
{
    /// <summary>Floats are written shortest-round-trip; NaN and infinities, which models do produce, as named literals.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
