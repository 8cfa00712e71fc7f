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

/// <summary>The job may not have been taken: the broker did not confirm it within <see cref="AiaasClientOptions.PublishTimeout"/>,
/// or over HTTP the ResultApi could not be reached, did not answer in time or failed (5xx). It may or may not have been
/// queued; submitting again with the same <see cref="JobId"/> is safe, since the JobId is the idempotency key. Or the broker
/// returned it because no queue is bound where it was sent (<see cref="IsUnroutable"/>: a wrong broker or virtual host, or
/// one where no worker or ResultApi has ever started; nothing was queued).</summary>
public sealed class AiaasPublishException : AiaasException
{
    public AiaasPublishException(Guid jobId, TimeSpan timeout)
        : base($"The broker did not confirm job {jobId} within {timeout.TotalSeconds:0.#} s; it may not have been queued. " +
            "Submit it again with the same JobId.") => JobId = jobId;

    private AiaasPublishException(Guid jobId, string message, Exception? innerException, bool unroutable)
        : base(message, innerException!) => (JobId, IsUnroutable) = (jobId, unroutable);

    public Guid JobId { get; }

    /// <summary>The broker returned the job unrouted: no queue is bound to its exchange there.</summary>
    public bool IsUnroutable { get; }

    internal static AiaasPublishException Unroutable(Guid jobId, string broker, Exception returned) => new(jobId,
        $"Job {jobId} was not queued: on {broker} no queue takes it, so no worker or ResultApi has ever started there. " +
        "Check the broker URI (AiaasClientOptions.RabbitMqUri, --rabbitmq or AIAAS_RABBITMQ_URI) and its virtual host.", returned, unroutable: true);

    /// <summary>A job too large for the broker: it was not published, and would never be taken as it is.</summary>
    internal static AiaasPublishException TooLarge(Guid jobId, long bytes, int maxBytes) => new(jobId,
        $"Job {jobId} was not queued: its message is about {bytes:N0} bytes, larger than the broker accepts ({maxBytes:N0} bytes, " +
        "RabbitMQ's max_message_size; AiaasClientOptions.MaxMessageBytes). Send large inputs by reference: a bulk job over an uploaded file.", null, unroutable: false);

    /// <summary>An HTTP submission with no clear answer: the job may or may not have been queued.</summary>
    internal static AiaasPublishException Unanswered(Guid jobId, string what, Exception? cause) => new(jobId,
        $"The ResultApi {what} for job {jobId}; it may or may not have been queued. Submit it again with the same JobId.", cause, unroutable: false);
}

/// <summary>The job ended failed, cancelled or expired; <see cref="Job"/> holds its reason.</summary>
public sealed class JobFailedException(JobView job)
    : AiaasException($"Job {job.Id} {job.Status.ToString().ToLowerInvariant()}: {job.Error}")
{
    public JobView Job { get; } = job;
}

/// <summary>The model's backlog is at its admission limit: the job was not submitted. Retry after <see cref="RetryAfter"/>
/// (with the same JobId, if one was chosen), or submit to another model.</summary>
public sealed class AiaasOverloadedException : AiaasException
{
    public AiaasOverloadedException(string model, int queued, int? limit, TimeSpan retryAfter)
        : this(model, retryAfter, $"Model {model} has {queued} jobs queued, its admission limit of {limit}; the job was not submitted. Retry after {retryAfter.TotalSeconds:0.#} s.")
    {
    }

    /// <summary>The ResultApi's own refusal (HTTP 429), with its reason.</summary>
    internal AiaasOverloadedException(string model, TimeSpan retryAfter, string message) : base(message) =>
        (Model, RetryAfter) = (model, retryAfter);

    public string Model { get; }
    public TimeSpan RetryAfter { get; }
}

/// <summary>The ResultApi refused a request; <see cref="Detail"/> is its explanation.</summary>
public sealed class AiaasApiException(HttpStatusCode statusCode, string? title, string? detail)
    : AiaasException($"{(int)statusCode} {title}: {detail}")
{
    public HttpStatusCode StatusCode { get; } = statusCode;

    /// <summary>The API's short summary of the problem, such as "Unknown model".</summary>
    public string? Title { get; } = title;

    public string? Detail { get; } = detail;
}

/// <summary>Some of the jobs of <see cref="IAiaasClient.SubmitPredictManyAsync"/> were refused by the ResultApi (over HTTP):
/// the others were queued. <see cref="JobIds"/> holds every job's id in the order given, and <see cref="Refusals"/> each
/// refused job's reason (<see cref="AiaasApiException"/>, or <see cref="AiaasOverloadedException"/> at the admission limit).
/// Submitting the refused requests again with their JobIds is safe, and so is submitting all of them again.</summary>
public sealed class AiaasSubmitManyException(IReadOnlyList<Guid> jobIds, IReadOnlyDictionary<Guid, AiaasException> refusals)
    : AiaasException($"{refusals.Count} of {jobIds.Count} jobs were not queued (the others were); the first: {refusals.Values.First().Message}")
{
    public IReadOnlyList<Guid> JobIds { get; } = jobIds;
    public IReadOnlyDictionary<Guid, AiaasException> Refusals { get; } = refusals;
}
