using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<JobStatus>))]
public enum JobStatus
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,

    /// <summary>Final: the job's time-to-live ran out while it was still queued, so it never ran.</summary>
    Expired,
}
