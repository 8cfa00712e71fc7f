using MassTransit;
using MassTransit.Middleware.Rescue;
using MassTransit.Transports;

namespace AIaaS.Queue.ServiceDefaults;

/// <summary>A message body larger than the endpoint accepts; the message goes to the error queue without being deserialized.</summary>
public sealed class MessageTooLargeException(string message) : Exception(message);

/// <summary>
/// Refuses a received message whose body is larger than <see cref="TransportOptions.MaxMessageBytes"/> before it is
/// deserialized. Deserializing multiplies a body's size many times (a 50 MB command took a worker from 141 to 3,779 MiB),
/// and it happens before any check of the sender, so the bound must come first. The broker's <c>max_message_size</c>
/// keeps such messages from being delivered at all; this is the second line, for brokers configured otherwise.
/// </summary>
public sealed class MessageSizeFilter(int maxBytes) : IFilter<ReceiveContext>
{
    public async Task Send(ReceiveContext context, IPipe<ReceiveContext> next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.Body.Length is not { } length || length <= maxBytes)
        {
            await next.Send(context).ConfigureAwait(false);
            return;
        }

        // Filters configured on the receive pipe run outside its rescue: a throw here would be a transport fault, and the
        // message would be returned to the queue and redelivered for ever. So it is moved to the error queue here, with
        // the reason in its fault headers, and acknowledged.
        var refusal = new MessageTooLargeException(
            $"The message body is {length} bytes; this endpoint accepts at most {maxBytes} (Transport:MaxMessageBytes). Send large inputs by reference.");
        if (!context.TryGetPayload(out IErrorTransport? errors))
        {
            throw refusal;
        }

        await errors.Send(new RescueExceptionReceiveContext(context, refusal)).ConfigureAwait(false);
    }

    public void Probe(ProbeContext context) => context?.CreateFilterScope("messageSize").Add("maxBytes", maxBytes);
}
