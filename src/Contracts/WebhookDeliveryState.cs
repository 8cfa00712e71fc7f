using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<WebhookDeliveryState>))]
public enum WebhookDeliveryState
{
    /// <summary>Waiting for its next attempt.</summary>
    Pending,

    /// <summary>The receiver answered 2xx.</summary>
    Delivered,

    /// <summary>Given up: attempts exhausted, the receiver answered 410 Gone, or the URL is not allowed.</summary>
    Failed,
}
