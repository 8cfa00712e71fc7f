namespace AIaaS.Queue.Contracts;

/// <summary>The answer of <c>POST /v1/jobs/outputs</c>: the outputs of the asked jobs that succeeded, and the ids with no
/// output to give (unknown, another tenant's, or not succeeded: wait for a job to tell which), each in the order asked.</summary>
public sealed record JobOutputsView
{
    public required IReadOnlyList<JobOutputView> Outputs { get; init; }
    public required IReadOnlyList<Guid> Missing { get; init; }
}
