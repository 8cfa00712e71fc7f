using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Webhooks;

/// <summary>
/// Which callback URLs the system calls: http or https only, and by default no private, loopback, link-local or otherwise
/// internal address, so that a job cannot make the API probe its own network. Checked when a job is accepted (with a
/// DNS lookup) and again on every connection (<see cref="ConnectAsync"/>), so that a name re-pointed after acceptance
/// gains nothing.
/// </summary>
public sealed class CallbackUrlPolicy(IOptions<WebhookOptions> options)
{
    private WebhookOptions Options => options.Value;

    /// <summary>Why the URL may not be called, or null; without network access (literal addresses and scheme only).</summary>
    public string? CheckSyntax(string url)
    {
        if (url.Length > 2048 || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "CallbackUrl is not an absolute URL.";
        }

        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
        {
            return "CallbackUrl must use http or https.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "CallbackUrl must not carry credentials.";
        }

        if (IsHostAllowed(uri.IdnHost))
        {
            return null;
        }

        if (uri.IdnHost.Equals("localhost", StringComparison.OrdinalIgnoreCase) || uri.IdnHost.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return Refused(uri.IdnHost);
        }

        return IPAddress.TryParse(uri.IdnHost, out var address) && !IsPublic(address) ? Refused(uri.IdnHost) : null;
    }

    /// <summary>Why a job submitted with this callback URL must be refused, or null: webhooks are off in this deployment, or
    /// <see cref="CheckAsync"/> refuses the URL. <paramref name="field"/> names the URL in the message, as the client sent it.</summary>
    public Task<string?> CheckSubmittedAsync(string url, string field, CancellationToken cancellationToken) =>
        Options.Enabled
            ? CheckAsync(url, cancellationToken)
            : Task.FromResult<string?>($"This deployment sends no webhooks (no Webhooks:Secrets configured); leave {field} out.");

    /// <summary><see cref="CheckSyntax"/>, then every address the host name resolves to.</summary>
    public async Task<string?> CheckAsync(string url, CancellationToken cancellationToken)
    {
        if (CheckSyntax(url) is { } problem)
        {
            return problem;
        }

        var host = new Uri(url).IdnHost;
        if (IsHostAllowed(host) || IPAddress.TryParse(host, out _))
        {
            return null;
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            return addresses.Length == 0 ? $"CallbackUrl host {host} does not resolve."
                : addresses.All(IsPublic) ? null : Refused(host);
        }
        catch (SocketException)
        {
            return $"CallbackUrl host {host} does not resolve.";
        }
    }

    /// <summary>A <see cref="SocketsHttpHandler.ConnectCallback"/> that connects only to addresses the policy allows.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal]
            : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        if (!IsHostAllowed(host) && !addresses.All(IsPublic))
        {
            throw new CallbackRefusedException(Refused(host));
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private bool IsHostAllowed(string host) =>
        Options.AllowPrivateNetworks || Options.AllowedHosts.Any(h => string.Equals(h.Trim('[', ']'), host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase));

    private static string Refused(string host) =>
        $"CallbackUrl host {host} is a private, loopback or link-local address; allow it with Webhooks:AllowedHosts or Webhooks:AllowPrivateNetworks.";

    /// <summary>False for loopback, private (RFC 1918, unique local), link-local, shared (CGNAT), unspecified, multicast and reserved ranges.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address))
        {
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] is 0 or 10 or 127 or >= 224
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] is >= 16 and <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 100 && b[1] is >= 64 and <= 127)
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)
                || (b[0] == 198 && b[1] is 18 or 19));
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = address.GetAddressBytes();
            return !(address.Equals(IPAddress.IPv6Any) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || (b[0] & 0xfe) == 0xfc);
        }

        return false;
    }
}

/// <summary>The policy refused a callback target at connection time; retrying cannot help.</summary>
public sealed class CallbackRefusedException(string message) : IOException(message);
