using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.ResultApi.Webhooks;

/// <summary>The events receivers get: <c>{ type, timestamp, data: { id, kind, model, status, ..., links } }</c>.</summary>
internal static class WebhookEvents
{
    public static string TypeFor(JobKind kind, JobStatus status) => (kind, status) switch
    {
        (_, JobStatus.Cancelled) => WebhookEventTypes.JobCancelled,
        (_, JobStatus.Expired) => WebhookEventTypes.JobExpired,
        (JobKind.Train, JobStatus.Succeeded) => WebhookEventTypes.TrainingSucceeded,
        (JobKind.Train, _) => WebhookEventTypes.TrainingFailed,
        (_, JobStatus.Succeeded) => WebhookEventTypes.JobSucceeded,
        _ => WebhookEventTypes.JobFailed,
    };

    /// <summary>The event for a stored job that reached its final state, sent to <paramref name="url"/>; its timestamp is
    /// the job's completion time, so the body is the same whichever event led to it.</summary>
    public static WebhookDelivery Create(WebhookOptions options, string url, JobRecord job) =>
        Create(options, url, job.TenantId, job.JobId, job.Kind, job.Model, job.Status, job.ModelVersion, job.Error, job.CompletedAt ?? job.SubmittedAt);

    private static WebhookDelivery Create(WebhookOptions options, string url, string tenantId, Guid jobId, JobKind kind, string storedModel,
        JobStatus status, int? modelVersion, string? error, DateTimeOffset at)
    {
        // The event goes to the job's own tenant, who knows the model by its plain name.
        var model = Tenants.PlainModelName(storedModel);
        var type = TypeFor(kind, status);
        var self = Link(options, $"v1/jobs/{jobId}");
        var output = kind == JobKind.Train
            ? modelVersion is { } version ? Link(options, $"v1/models/{Uri.EscapeDataString(model)}/versions/{version}") : null
            : status == JobStatus.Succeeded ? Link(options, $"v1/jobs/{jobId}/output") : null;
        var body = new
        {
            type,
            timestamp = at,
            data = new
            {
                id = jobId,
                kind = kind.ToString().ToLowerInvariant(),
                model,
                modelVersion,
                status = status.ToString().ToLowerInvariant(),
                error,
                links = new { status = self, output },
            },
        };
        return new WebhookDelivery
        {
            // Deterministic: the same completion event consumed twice schedules one delivery with one webhook-id.
            Id = DeliveryId(tenantId, jobId, type),
            JobId = jobId,
            EventType = type,
            Url = url,
            TenantId = tenantId,
            Payload = JsonSerializer.Serialize(body, WireJson.Options),
            CreatedAt = at,
            NextAttemptAt = at,
        };
    }

    /// <summary>The event for a bulk job's end: <c>batch.completed</c> (the file was scored; failed records are counted and
    /// listed in its error file), <c>batch.failed</c>, <c>batch.cancelled</c> or <c>batch.expired</c>.</summary>
    public static WebhookDelivery CreateBulk(WebhookOptions options, BulkJobRecord job)
    {
        var at = job.CompletedAt ?? job.SubmittedAt;
        var type = job.Status switch
        {
            BulkJobStatus.Succeeded => WebhookEventTypes.BatchCompleted,
            BulkJobStatus.Cancelled => WebhookEventTypes.BatchCancelled,
            BulkJobStatus.Expired => WebhookEventTypes.BatchExpired,
            _ => WebhookEventTypes.BatchFailed,
        };
        var self = $"v1/batches/{job.BulkJobId}";
        var body = new
        {
            type,
            timestamp = at,
            data = new
            {
                id = job.BulkJobId,
                kind = "batch",
                model = Tenants.PlainModelName(job.Model),
                modelVersion = job.ModelVersion,
                status = job.Status.ToString().ToLowerInvariant(),
                counts = new BulkJobCounts { Total = job.Total, Succeeded = job.Succeeded, Failed = job.Failed },
                error = job.Error,
                links = new { status = Link(options, self), output = Link(options, self + "/output"), errors = Link(options, self + "/errors") },
            },
        };
        return new WebhookDelivery
        {
            Id = DeliveryId(job.TenantId, job.BulkJobId, type),
            JobId = job.BulkJobId,
            EventType = type,
            Url = job.CallbackUrl!,
            TenantId = job.TenantId,
            Payload = JsonSerializer.Serialize(body, WireJson.Options),
            CreatedAt = at,
            NextAttemptAt = at,
        };
    }

    private static string Link(WebhookOptions options, string path) =>
        options.PublicBaseUrl is { } root ? new Uri(root, path).ToString() : "/" + path;

    /// <summary>The webhook-id of a job's event: ids are unique per tenant, so the tenant is part of it, and two tenants' jobs
    /// of one id get a delivery each. (Deliveries scheduled before ids were per tenant keep their msg_{job}_{type} ids.)</summary>
    internal static string DeliveryId(string tenantId, Guid jobId, string type) => $"msg_{tenantId}_{jobId:N}_{type.Replace('.', '_')}";
}
