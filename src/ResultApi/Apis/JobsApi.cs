using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace AIaaS.Queue.ResultApi.Apis;

public static class JobsApi
{
    private const int MaxLookupIds = 1000;

    public static IEndpointRouteBuilder MapJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/jobs").WithTags("Jobs");
        api.MapGet("/{id:guid}", GetJob).WithName("GetJob").WithSummary("A job's status, timestamps, device and batch.");
        api.MapGet("/{id:guid}/output", GetJobOutput).WithName("GetJobOutput").WithSummary("A succeeded job's outputs.");
        api.MapGet("/", ListJobs).WithName("ListJobs").WithSummary("Jobs newest first, filtered by status, model and kind; cursor-paged.");
        api.MapPost("/lookup", LookupJobs).WithName("LookupJobs").WithSummary("The state of many jobs at once; unknown ids are left out.");
        api.MapPost("/outputs", GetJobOutputs).WithName("GetJobOutputs")
            .WithSummary($"The outputs of up to {MaxLookupIds} jobs at once; ids with no output (unknown, or not succeeded) are listed as missing.");
        api.MapGet("/{id:guid}/events", GetJobEvents).WithName("GetJobEvents")
            .WithSummary("A job's history, oldest first: lifecycle changes and, for train jobs, one entry per epoch with its metrics.");
        app.MapDatasetsApi();
        return app;
    }

    public static async Task<Results<Ok<JobView>, ProblemHttpResult>> GetJob(Guid id, TenantCaller caller, IJobStore jobs, CancellationToken cancellationToken)
    {
        var job = await jobs.GetOwnAsync(caller, id, cancellationToken);
        return job is null ? UnknownJob(id) : TypedResults.Ok(job.ToView());
    }

    public static async Task<Results<Ok<JobOutputView>, ProblemHttpResult>> GetJobOutput(
        Guid id, TenantCaller caller, IJobStore jobs, CancellationToken cancellationToken)
    {
        var job = await jobs.GetOwnAsync(caller, id, cancellationToken);
        if (job is null)
        {
            return UnknownJob(id);
        }

        if (job is { Status: JobStatus.Succeeded, PayloadExpiredAt: { } expiredAt })
        {
            return Problems.Gone("The job's output has expired",
                $"The outputs of job {id} were removed under the tenant's retention at {expiredAt:O}.", expiredAt);
        }

        if (job.Status != JobStatus.Succeeded || job.Outputs is null || job.ModelVersion is null)
        {
            return Problems.Create(StatusCodes.Status409Conflict, "The job has no output",
                job.Status == JobStatus.Failed ? $"The job failed: {job.Error}" : $"The job is {job.Status.ToString().ToLowerInvariant()}.");
        }

        return TypedResults.Ok(job.ToOutputView());
    }

    private static JobOutputView ToOutputView(this JobRecord job) => new()
    {
        Id = job.JobId,
        Model = Tenants.PlainModelName(job.Model),
        ModelVersion = job.ModelVersion!.Value,
        Outputs = job.Outputs!,
        Cached = job.Cached,
        Explanation = job.Explanation,
    };

    public static async Task<Results<Ok<JobPageView>, ProblemHttpResult>> ListJobs(
        TenantCaller caller, IJobStore jobs, CancellationToken cancellationToken,
        JobStatus? status = null, string? model = null, JobKind? kind = null, int limit = 50, string? cursor = null)
    {
        if (limit is < 1 or > 1000)
        {
            return BadRequest("limit must be between 1 and 1000.");
        }

        try
        {
            var page = await jobs.ListAsync(new JobQuery
            {
                TenantId = caller.TenantId,
                Status = status,
                Model = model is null ? null : Tenants.StoredModelName(caller.TenantId, model),
                Kind = kind,
                Limit = limit,
                Cursor = cursor,
            }, cancellationToken);
            return TypedResults.Ok(new JobPageView { Items = page.Items.Select(j => j.ToView()).ToArray(), NextCursor = page.NextCursor });
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            return BadRequest("cursor is not one this API returned.");
        }
    }

    public static async Task<Results<Ok<IReadOnlyList<JobView>>, ProblemHttpResult>> LookupJobs(
        JobLookupRequest request, TenantCaller caller, IJobStore jobs, AiaasMetrics metrics, CancellationToken cancellationToken)
    {
        if (request.Ids is null || request.Ids.Count > MaxLookupIds)
        {
            return BadRequest($"Give between 0 and {MaxLookupIds} ids.");
        }

        var started = Stopwatch.GetTimestamp();
        var found = await jobs.GetManyAsync(caller.KeysOf(request.Ids), includeOutputs: false, cancellationToken);
        metrics.StageTimed("api.lookup", Stopwatch.GetElapsedTime(started));
        return TypedResults.Ok<IReadOnlyList<JobView>>(found.Select(j => j.ToView()).ToArray());
    }

    public static async Task<Results<Ok<JobOutputsView>, ProblemHttpResult>> GetJobOutputs(
        JobLookupRequest request, TenantCaller caller, IJobStore jobs, CancellationToken cancellationToken)
    {
        if (request.Ids is null || request.Ids.Count > MaxLookupIds)
        {
            return BadRequest($"Give between 0 and {MaxLookupIds} ids.");
        }

        var asked = request.Ids.Distinct().ToArray();
        var found = (await jobs.GetManyAsync(caller.KeysOf(asked), includeOutputs: true, cancellationToken))
            .Where(j => j.Status == JobStatus.Succeeded && j.Outputs is not null && j.ModelVersion is not null)
            .ToDictionary(j => j.JobId);
        return TypedResults.Ok(new JobOutputsView
        {
            Outputs = [.. asked.Where(found.ContainsKey).Select(id => found[id].ToOutputView())],
            Missing = [.. asked.Where(id => !found.ContainsKey(id))],
        });
    }

    public static async Task<Results<Ok<IReadOnlyList<JobEventView>>, ProblemHttpResult>> GetJobEvents(
        Guid id, TenantCaller caller, IJobStore jobs, IJobEventStore events, CancellationToken cancellationToken, long after = 0, int limit = 1000)
    {
        if (limit is < 1 or > 10_000)
        {
            return BadRequest("limit must be between 1 and 10000.");
        }

        if (await jobs.GetOwnAsync(caller, id, cancellationToken) is null)
        {
            return UnknownJob(id);
        }

        return TypedResults.Ok(await events.ListJobEventsAsync(caller.TenantId, id, after, limit, cancellationToken));
    }

    internal static JobView ToView(this JobRecord job) => new()
    {
        Id = job.JobId,
        Kind = job.Kind,
        Model = Tenants.PlainModelName(job.Model),
        ModelVersion = job.ModelVersion,
        Status = job.Status,
        SubmittedAt = job.SubmittedAt,
        StartedAt = job.StartedAt,
        CompletedAt = job.CompletedAt,
        Device = job.Device,
        BatchSize = job.BatchSize,
        BatchId = job.BatchId,
        WorkerId = job.WorkerId,
        Error = job.Error,
        Cached = job.Cached,
        // Failed and cancelled jobs are marked too (it takes them out of the sweep's index), but they had no outputs to lose.
        OutputsExpiredAt = job.Status == JobStatus.Succeeded ? job.PayloadExpiredAt : null,
    };

    /// <summary>The caller's job: ids are per tenant, so another tenant's job under the id is never read.</summary>
    internal static Task<JobRecord?> GetOwnAsync(this IJobStore jobs, TenantCaller caller, Guid id, CancellationToken cancellationToken) =>
        jobs.GetAsync(caller.TenantId, id, cancellationToken);

    /// <summary>The caller's jobs under these ids, each once.</summary>
    private static JobKey[] KeysOf(this TenantCaller caller, IEnumerable<Guid> ids) => ids.Distinct().Select(id => new JobKey(caller.TenantId, id)).ToArray();

    internal static ProblemHttpResult UnknownJob(Guid id) => Problems.Create(StatusCodes.Status404NotFound, "Unknown job",
        $"No job with id {id} is known. A job submitted a moment ago may still be on its way to the queue.");

    private static ProblemHttpResult BadRequest(string detail) => Problems.Create(StatusCodes.Status400BadRequest, "Invalid request", detail);
}
