using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<JobKind>))]
public enum JobKind
{
    Predict,
    Train,
}
