using System.Net;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>Base of the errors the SDK raises.</summary>
public class AiaasException : Exception
{
    public AiaasException() { }
    public AiaasException(string message) : base(message) { }
    public AiaasException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The broker did not take a job: it did not confirm it within <see cref="AiaasClientOptions.PublishTimeout"/> (it
/// may or may not have been queued; submitting again with the same <see cref="JobId"/> is safe, since the JobId is the
/// idempotency key), or it returned it because no queue is bound where it was sent (<see cref="IsUnroutable"/>: a wrong
/// broker or virtual host, or one where no worker or ResultApi has ever started; nothing was queued).</summary>
public sealed class AiaasPublishException : AiaasException
{
    public AiaasPublishException(Guid jobId, TimeSpan timeout)
        : base($"The broker did not confirm job {jobId} within {timeout.TotalSeconds:0.#} s; it may not have been queued. " +
            "Submit it again with the same JobId.") => JobId = jobId;

    private AiaasPublishException(Guid jobId, string message, Exception innerException)
        : base(message, innerException) => (JobId, IsUnroutable) = (jobId, true);

    public Guid JobId { get; }

    /// <summary>The broker returned the job unrouted: no queue is bound to its exchange there.</summary>
    public bool IsUnroutable { get; }

    internal static AiaasPublishException Unroutable(Guid jobId, string broker, Exception returned) => new(jobId,
        $"Job {jobId} was not queued: on {broker} no queue takes it, so no worker or ResultApi has ever started there. " +
        "Check the broker URI (AiaasClientOptions.RabbitMqUri, --rabbitmq or AIAAS_RABBITMQ_URI) and its virtual host.", returned);
}

/// <summary>The job ended failed, cancelled or expired; <see cref="Job"/> holds its reason.</summary>
public sealed class JobFailedException(JobView job)
    : AiaasException($"Job {job.Id} {job.Status.ToString().ToLowerInvariant()}: {job.Error}")
{
    public JobView Job { get; } = job;
}

/// <summary>The model's backlog is at its admission limit: the job was not submitted. Retry after <see cref="RetryAfter"/>
/// (with the same JobId, if one was chosen), or submit to another model.</summary>
public sealed class AiaasOverloadedException(string model, int queued, int? limit, TimeSpan retryAfter)
    : AiaasException($"Model {model} has {queued} jobs queued, its admission limit of {limit}; the job was not submitted. Retry after {retryAfter.TotalSeconds:0.#} s.")
{
    public string Model { get; } = model;
    public TimeSpan RetryAfter { get; } = retryAfter;
}

/// <summary>The ResultApi refused a request; <see cref="Detail"/> is its explanation.</summary>
public sealed class AiaasApiException(HttpStatusCode statusCode, string? title, string? detail)
    : AiaasException($"{(int)statusCode} {title}: {detail}")
{
    public HttpStatusCode StatusCode { get; } = statusCode;
    public string? Detail { get; } = detail;
}
