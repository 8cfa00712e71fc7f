using AIaaS.Queue.ServiceDefaults;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Workers.Security;

/// <summary>A command whose sender did not verify; it goes to its endpoint's error queue with this reason, never retried.</summary>
public sealed class UnverifiedSenderException(string message) : Exception(message);

/// <summary>
/// What a worker does with a command whose sender does not verify: it stores nothing, not even a refusal, because a
/// record under a message's tenant and id would let anyone who can publish take that id from the tenant (its
/// idempotency key) or plant jobs in its listings. The refusal is counted (<c>aiaas.messages.refused</c>), logged, and
/// the message dead-lettered: the exception this returns sends it to the endpoint's <c>_error</c> queue.
/// </summary>
public sealed class SenderRefusals(AiaasMetrics metrics, ILogger<SenderRefusals> logger)
{
    public UnverifiedSenderException Refuse(string command, Guid id, SenderCheck sender)
    {
        metrics.MessageRefused(command);
        logger.LogWarning("Refused {Command} {Id} naming tenant {TenantId}: {Reason}; nothing stored, message dead-lettered",
            command, id, sender.TenantId, sender.Refusal);
        return new UnverifiedSenderException($"{command} {id} refused: {sender.Refusal}");
    }
}
