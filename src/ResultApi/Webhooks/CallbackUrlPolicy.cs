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

        if (IPAddress.TryParse(uri.IdnHost, out var address))
        {
            return IsPublic(address) ? null : Refused(uri.IdnHost);
        }

        return LooksLikeAnAddress(uri) ? $"CallbackUrl host {uri.IdnHost} is not a name a DNS lookup could answer: it ends in a number, or reads as an IP address once normalized." : null;
    }

    /// <summary>A host name that is not an IP literal here but ends in a numeric label (no top-level domain does), or whose
    /// Unicode form normalizes (NFKC, as URL parsers do) into an IP address: "①②⑦.0.0.1" is "xn--orhcp.0.0.1" to .NET, which
    /// would look it up in DNS, and "127.0.0.1" to a browser. Refused before any lookup.</summary>
    private static bool LooksLikeAnAddress(Uri uri)
    {
        var last = uri.IdnHost.TrimEnd('.').Split('.')[^1];
        if (last.Length > 0 && (last.All(char.IsAsciiDigit) || last.StartsWith("0x", StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        string normalized;
        try
        {
            normalized = uri.Host.Normalize(System.Text.NormalizationForm.FormKC);
        }
        catch (Exception ex) when (ex is ArgumentException or PlatformNotSupportedException)
        {
            return uri.Host != uri.IdnHost; // A Unicode host that cannot be normalized is not one to look up.
        }

        return normalized != uri.Host && (IPAddress.TryParse(normalized, out _) || normalized.TrimEnd('.').Split('.')[^1].All(char.IsAsciiDigit));
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

            // IPv6 forms that carry an IPv4 address are as public as the address they carry: IPv4-compatible (::a.b.c.d),
            // IPv4-translated (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48), 6to4 (2002::/16) and
            // Teredo (2001::/32, server and obfuscated client).
            if (EmbeddedIPv4(b) is { } embedded)
            {
                return embedded.All(IsPublic);
            }

            return !(address.Equals(IPAddress.IPv6Any) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || (b[0] & 0xfe) == 0xfc
                || (b[0] == 0x01 && b[1] == 0 && b.AsSpan(2, 6).IndexOfAnyExcept((byte)0) < 0) // 100::/64, discard-only
                || (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)); // 2001:db8::/32, documentation
        }

        return false;
    }

    private static IPAddress[]? EmbeddedIPv4(byte[] b)
    {
        static IPAddress V4(ReadOnlySpan<byte> bytes) => new(bytes);
        var span = b.AsSpan();
        if (span[..12].IndexOfAnyExcept((byte)0) < 0)
        {
            return [V4(span[12..])]; // ::a.b.c.d (:: and ::1 too, as 0.0.0.0 and 0.0.0.1)
        }

        if (span[8] == 0xff && span[9] == 0xff && span[10] == 0 && span[11] == 0 && span[..8].IndexOfAnyExcept((byte)0) < 0)
        {
            return [V4(span[12..])]; // ::ffff:0:a.b.c.d
        }

        if (span[0] == 0 && span[1] == 0x64 && span[2] == 0xff && span[3] == 0x9b
            && (span[4..12].IndexOfAnyExcept((byte)0) < 0 || (span[4] == 0 && span[5] == 1)))
        {
            return span[4] == 0 && span[5] == 1 ? [IPAddress.Loopback] : [V4(span[12..])];
        }

        if (span[0] == 0x20 && span[1] == 0x02)
        {
            return [V4(span[2..6])];
        }

        if (span[0] == 0x20 && span[1] == 0x01 && span[2] == 0 && span[3] == 0)
        {
            Span<byte> client = stackalloc byte[4];
            for (var i = 0; i < 4; i++)
            {
                client[i] = (byte)(span[12 + i] ^ 0xff);
            }

            return [V4(span[4..8]), V4(client)];
        }

        return null;
    }
}

/// <summary>The policy refused a callback target at connection time; retrying cannot help.</summary>
public sealed class CallbackRefusedException(string message) : IOException(message);
