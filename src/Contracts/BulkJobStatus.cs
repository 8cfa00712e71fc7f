using System.Text.Json.Serialization;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// Where a bulk scoring job is (the OpenAI Batch API's lifecycle). Validating: the file and model are being checked;
/// running: chunks are being scored (the file may still be being split); finalizing: every chunk is done and the job is
/// being closed. Final: succeeded (every record scored or listed in the error file), failed (the file or model could not
/// be used at all), cancelled, expired (its completion window ended). Cancelled and expired jobs keep their partial output.
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<BulkJobStatus>))]
public enum BulkJobStatus
{
    Validating,
    Running,
    Finalizing,
    Succeeded,
    Failed,
    Cancelling,
    Cancelled,
    Expired,
}
