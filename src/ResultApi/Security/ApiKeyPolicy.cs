using System.Net;
using System.Security.Cryptography;
using System.Text;
using AIaaS.Queue.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Security;

/// <summary>Whether keys are required, and the admin key's hash. Decided once the server listens, from its addresses.</summary>
public sealed class ApiKeyPolicy
{
    private readonly byte[]? _adminKeyHash;
    private readonly bool? _configuredRequirement;
    private volatile bool _keysRequired = true; // closed until the addresses are known

    public ApiKeyPolicy(IOptions<SecurityOptions> options)
    {
        var security = options.Value;
        _configuredRequirement = security.RequireApiKeys ?? (security.HasAdminKey ? true : null);
        _adminKeyHash = !string.IsNullOrEmpty(security.AdminKeyHash)
            ? Convert.FromHexString(security.AdminKeyHash.Trim())
            : !string.IsNullOrEmpty(security.AdminKey) ? SHA256.HashData(Encoding.UTF8.GetBytes(security.AdminKey)) : null;
    }

    public bool KeysRequired => _keysRequired;

    public bool IsAdminKey(string presented) =>
        _adminKeyHash is not null && CryptographicOperations.FixedTimeEquals(_adminKeyHash, SHA256.HashData(Encoding.UTF8.GetBytes(presented)));

    /// <summary>Settles the policy for the addresses the server listens on; returns a reason to refuse to run, or null.</summary>
    public string? Settle(IReadOnlyCollection<string> addresses)
    {
        var exposed = addresses.Where(a => !IsLoopback(a)).ToArray();
        if (_configuredRequirement == false && exposed.Length > 0)
        {
            return $"Security:RequireApiKeys is false, so the API may only listen on loopback, but it listens on {string.Join(", ", exposed)}.";
        }

        _keysRequired = _configuredRequirement ?? exposed.Length > 0;
        return null;
    }

    private static bool IsLoopback(string address)
    {
        // Kestrel reports wildcards as "+", "*" or "[::]", which Uri does not parse as hosts: those are not loopback.
        if (!Uri.TryCreate(address.Replace("://+", "://wildcard", StringComparison.Ordinal).Replace("://*", "://wildcard", StringComparison.Ordinal),
                UriKind.Absolute, out var uri))
        {
            return false;
        }

        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }
}
