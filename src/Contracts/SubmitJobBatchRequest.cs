namespace AIaaS.Queue.Contracts;

/// <summary>The body of <c>POST /v1/jobs/batch</c>: up to 1,000 predict jobs, each in the
/// form of <c>POST /v1/jobs</c>'s body. Give each a JobId to make a retry of the request safe.</summary>
public sealed record SubmitJobBatchRequest
{
    public IReadOnlyList<SubmitJobRequest>? Jobs { get; init; }
}
