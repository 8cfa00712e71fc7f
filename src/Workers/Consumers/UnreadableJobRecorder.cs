using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Security;
using MassTransit;
using MassTransit.Middleware;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Consumers;

/// <summary>
/// In a job queue's error pipe, before a message goes to its <c>_error</c> queue: a command that could not be read as a
/// <see cref="SubmitPredictJob"/> or a <see cref="SubmitTrainJob"/> (a field missing, a number sent as a string: plain AMQP
/// clients make such mistakes) would otherwise leave its job unknown for good. Where the raw body still names a job id and
/// a sender that verifies, the job is stored Failed with the reason, so that the client polling it learns why. The message
/// still goes to the error queue for operators. Nothing is stored for an unverified sender, nor over a job of the sender's
/// tenant that is final (ids are per tenant: another tenant's job under the id is a different job).
/// </summary>
internal sealed class UnreadableJobRecorder(
    JobKind kind,
    IJobStore jobs,
    SenderVerifier senders,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<UnreadableJobRecorder> logger) : IFilter<ExceptionReceiveContext>
{
    /// <summary>Puts the recorder for <paramref name="kind"/> in the endpoint's error pipe, ahead of the message's move to
    /// the error queue. No fault event is published (see <c>BusRegistration</c>: no part of the system consumes one).</summary>
    public static void AddTo(IReceiveEndpointConfigurator endpoint, IServiceProvider services, JobKind kind)
    {
        var recorder = ActivatorUtilities.CreateInstance<UnreadableJobRecorder>(services, kind);
        endpoint.ConfigureError(error =>
        {
            error.UseFilter(recorder);
            error.UseFilter(new ErrorTransportFilter());
        });
    }

    private string Command => kind == JobKind.Train ? nameof(SubmitTrainJob) : nameof(SubmitPredictJob);

    private string Purpose => kind == JobKind.Train ? ApiKeyFormat.TrainPurpose : ApiKeyFormat.PredictPurpose;

    public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
    {
        if (IsUnreadable(context.Exception))
        {
            try
            {
                await RecordAsync(context).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Recording is a courtesy: whatever goes wrong, the message must still reach the error queue.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                logger.LogWarning(ex, "Could not record the unreadable {Command} as a failed job", Command);
            }
        }

        await next.Send(context).ConfigureAwait(false);
    }

    /// <summary>The body could not become the command: System.Text.Json refused it, as such or wrapped by MassTransit.</summary>
    private static bool IsUnreadable(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is JsonException || e.GetType().Name == "SerializationException")
            {
                return true;
            }
        }

        return false;
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("recordUnreadableJob");

    private async Task RecordAsync(ExceptionReceiveContext context)
    {
        var command = ReadCommand(context.Body.GetBytes());
        if (command is not { JobId: { } jobId })
        {
            logger.LogInformation("An unreadable {Command} names no job id; it goes to the error queue only: {Reason}", Command, context.Exception.Message);
            return;
        }

        var sender = await senders.VerifyAsync(command.Sender, Purpose, jobId, context.CancellationToken).ConfigureAwait(false);
        if (!sender.Accepted)
        {
            return;
        }

        var existing = await jobs.GetAsync(sender.TenantId, jobId, context.CancellationToken).ConfigureAwait(false);
        if (existing is not null && existing.IsFinal)
        {
            return;
        }

        var now = time.GetUtcNow();
        var reason = $"The command could not be read as a {Command}: {Reason(context.Exception)}";
        await jobs.CompleteAsync([new JobRecord
        {
            JobId = jobId,
            TenantId = sender.TenantId,
            Kind = kind,
            Model = Tenants.QualifyModel(sender.TenantId, command.Model ?? "unknown"),
            Status = JobStatus.Failed,
            SubmittedAt = existing?.SubmittedAt ?? command.SubmittedAt ?? now,
            CompletedAt = now,
            WorkerId = options.Value.WorkerId,
            Error = reason,
        }], context.CancellationToken).ConfigureAwait(false);
        logger.LogInformation("Job {JobId} failed: {Error}", jobId, reason);
    }

    /// <summary>What can still be read of the command, field by field: the MassTransit envelope's <c>message</c>, or the
    /// body itself when it is plain JSON. Null when the body is not JSON at all.</summary>
    internal static UnreadableCommand? ReadCommand(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var message = root.ValueKind == JsonValueKind.Object && Property(root, "message") is { ValueKind: JsonValueKind.Object } inner ? inner : root;
            if (message.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            Guid? jobId = Property(message, "jobId") is { ValueKind: JsonValueKind.String } id && Guid.TryParse(id.GetString(), out var parsed) && parsed != Guid.Empty
                ? parsed
                : null;
            var model = Property(message, "model") is { ValueKind: JsonValueKind.String } m ? m.GetString() : null;
            DateTimeOffset? submittedAt = Property(message, "submittedAt") is { ValueKind: JsonValueKind.String } at && at.TryGetDateTimeOffset(out var time) ? time : null;
            TenantCredentials? sender = null;
            if (Property(message, "sender") is { ValueKind: JsonValueKind.Object } s)
            {
                sender = new TenantCredentials { TenantId = Text(s, "tenantId"), KeyId = Text(s, "keyId"), Proof = Text(s, "proof") };
            }

            return new UnreadableCommand(jobId, model is { Length: > 0 } && Tenants.IsValidModelName(model) ? model : null, submittedAt, sender);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Property names as the wire writes them (camelCase), or as a hand-written client might (PascalCase).</summary>
    private static JsonElement? Property(JsonElement element, string camelCase)
    {
        if (element.TryGetProperty(camelCase, out var value))
        {
            return value;
        }

        return element.TryGetProperty(char.ToUpperInvariant(camelCase[0]) + camelCase[1..], out value) ? value : null;
    }

    private static string? Text(JsonElement element, string name) => Property(element, name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    /// <summary>The deserializer's own words (which field, which position), without MassTransit's wrapping.</summary>
    private static string Reason(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is JsonException json)
            {
                return json.Message;
            }
        }

        return exception.Message;
    }
}

internal sealed record UnreadableCommand(Guid? JobId, string? Model, DateTimeOffset? SubmittedAt, TenantCredentials? Sender);
