using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Security;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// Queues many predict jobs from one request (<c>POST /v1/jobs/batch</c>) and answers each one as <c>POST /v1/jobs</c> would
/// have: every job goes through <see cref="JobSubmitter"/>'s checks, so a bad job is refused alone and the others are queued.
/// </summary>
/// <remarks>
/// Admission is decided once per model for the whole body, as the SDK's broker path and <see cref="JobSubmitter.SubmitTextsAsync"/>
/// do: a model at its limit refuses all of its new jobs (429), one under it takes all of them, even past the limit. Jobs are
/// published several at a time, each awaiting the broker's confirmation, so one body costs one HTTP round trip and a few
/// broker round trips per eight jobs.
/// </remarks>
public sealed class JobBatchSubmitter(JobSubmitter submitter, TimeProvider time)
{
    /// <summary>Most jobs one body may hold.</summary>
    public const int MaxJobs = 1000;

    private const int PublishConcurrency = 8;

    public async Task<JobBatchView> SubmitAsync(IReadOnlyList<SubmitJobRequest> requests, TenantCaller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var now = time.GetUtcNow();
        var admissions = new Dictionary<string, ModelAdmissionView>(StringComparer.Ordinal);
        foreach (var model in requests.Select(r => r?.Model).Where(Tenants.IsValidModelName).Distinct(StringComparer.Ordinal))
        {
            admissions[model!] = await submitter.AdmissionAsync(model!, Tenants.QualifyModel(caller.TenantId, model!), cancellationToken);
        }

        var items = new JobBatchItemView[requests.Count];
        await Parallel.ForAsync(0, requests.Count, new ParallelOptions { MaxDegreeOfParallelism = PublishConcurrency, CancellationToken = cancellationToken },
            async (i, token) => items[i] = await SubmitOneAsync(requests[i], caller, admissions, now, token));
        return new JobBatchView { Items = items };
    }

    private async Task<JobBatchItemView> SubmitOneAsync(SubmitJobRequest? request, TenantCaller caller,
        Dictionary<string, ModelAdmissionView> admissions, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var jobId = request?.JobId ?? Guid.CreateVersion7();
        if (request is null || request.Kind != JobKind.Predict)
        {
            return Refused(jobId, new SubmissionRefusal(StatusCodes.Status400BadRequest, "Invalid job",
                "A batch holds predict jobs only; submit a train job on its own to POST /v1/jobs."));
        }

        if (request.TimeToLiveProblem() is { } ttlProblem)
        {
            return Refused(jobId, new SubmissionRefusal(StatusCodes.Status400BadRequest, "Invalid job", ttlProblem));
        }

        var submission = await submitter.SubmitPredictAsync(request.ToPredictJob(jobId, now), caller,
            admissions.GetValueOrDefault(request.Model ?? ""), cancellationToken);
        return submission.Refusal is { } refusal
            ? Refused(jobId, refusal)
            : new JobBatchItemView
            {
                JobId = jobId,
                Status = submission.IsNew ? StatusCodes.Status202Accepted : StatusCodes.Status200OK,
                Job = submission.Job!.ToView(),
            };
    }

    private static JobBatchItemView Refused(Guid jobId, SubmissionRefusal refusal) => new()
    {
        JobId = jobId,
        Status = refusal.Status,
        Title = refusal.Title,
        Detail = refusal.Detail,
        RetryAfterSeconds = refusal.RetryAfterSeconds,
    };
}
