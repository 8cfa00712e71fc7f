namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>The body of <c>POST /v1/jobs/batch</c>: up to <see cref="JobBatchSubmitter.MaxJobs"/> predict jobs, each in the
/// form of <c>POST /v1/jobs</c>'s body. Give each a JobId to make a retry of the request safe.</summary>
public sealed record SubmitJobBatchRequest
{
    public IReadOnlyList<SubmitJobRequest>? Jobs { get; init; }
}
