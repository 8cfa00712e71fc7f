using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>What the API reads from a <see cref="SubmitJobRequest"/>: its checks and the predict command it asks for.</summary>
internal static class SubmitJobRequests
{
    /// <summary>Why <see cref="SubmitJobRequest.TimeToLiveSeconds"/> is out of range, or null.</summary>
    public static string? TimeToLiveProblem(this SubmitJobRequest request) =>
        request.TimeToLiveSeconds is { } seconds && !(seconds is > 0 and <= 30 * 24 * 3600)
            ? "TimeToLiveSeconds, when given, must be above 0 and at most 30 days."
            : null;

    /// <summary>The predict command this request asks for; <see cref="JobSubmitter"/> checks it and sets its sender.</summary>
    public static SubmitPredictJob ToPredictJob(this SubmitJobRequest request, Guid jobId, DateTimeOffset now) => new()
    {
        JobId = jobId,
        Model = request.Model ?? "",
        ModelVersion = request.ModelVersion,
        Features = request.Features,
        Inputs = request.Inputs,
        Text = request.Text,
        Image = request.Image,
        Explain = request.Explain,
        Outputs = request.Outputs,
        CallbackUrl = request.CallbackUrl,
        Priority = request.Priority,
        ExpiresAt = request.TimeToLiveSeconds is { } ttl ? now.AddSeconds(ttl) : null,
        SubmittedAt = now,
    };
}
