using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Security;

/// <summary>The tenant a command is accepted for, or why it is refused.</summary>
public readonly record struct SenderCheck(string TenantId, string? Refusal)
{
    public bool Accepted => Refusal is null;
}

/// <summary>
/// Checks that a command's tenant and key proof match what the store knows (<see cref="ApiKeyFormat"/>). Key records
/// and the "are keys required" answer are cached for a few seconds, so a revocation takes effect within that time
/// while a busy worker does not read the store for every message.
/// </summary>
public sealed class SenderVerifier(ITenantStore tenants, IOptions<SecurityOptions> options, TimeProvider time)
{
    private static readonly TimeSpan CacheTime = TimeSpan.FromSeconds(5);
    private const int MaxCachedKeys = 10_000;

    private readonly ConcurrentDictionary<string, (ApiKeyRecord Key, DateTimeOffset Until)> _keys = new(StringComparer.Ordinal);
    private (bool Required, DateTimeOffset Until) _keysRequired;

    public async Task<SenderCheck> VerifyAsync(TenantCredentials? sender, string purpose, Guid jobId, CancellationToken cancellationToken)
    {
        var tenantId = Tenants.OrDefault(sender?.TenantId);
        if (!Tenants.IsValidTenantId(tenantId))
        {
            return new SenderCheck(Tenants.DefaultTenantId, "The message names no valid tenant.");
        }

        if (sender?.KeyId is not { } keyId)
        {
            if (await KeysRequiredAsync(cancellationToken).ConfigureAwait(false))
            {
                return new SenderCheck(tenantId, "This deployment requires an API key, and the message carries none (set AiaasClientOptions.ApiKey).");
            }

            return tenantId == Tenants.DefaultTenantId
                ? new SenderCheck(tenantId, null)
                : new SenderCheck(tenantId, $"Tenant {tenantId} must send an API key with its messages.");
        }

        var key = await FindKeyAsync(keyId, cancellationToken).ConfigureAwait(false);
        var valid = key is { RevokedAt: null } && key.TenantId == tenantId && sender.Proof is { } proof
            && CryptographicOperations.FixedTimeEquals(
                Encoding.ASCII.GetBytes(ApiKeyFormat.Proof(key.Sha256, purpose, tenantId, jobId)), Encoding.ASCII.GetBytes(proof));
        return valid
            ? new SenderCheck(tenantId, null)
            : new SenderCheck(tenantId, $"The message's API key is not valid for tenant {tenantId} (unknown, revoked, or its proof does not match).");
    }

    private async Task<bool> KeysRequiredAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RequireApiKeys is { } required)
        {
            return required;
        }

        var now = time.GetUtcNow();
        var cached = _keysRequired;
        if (cached.Until > now)
        {
            return cached.Required;
        }

        var any = await tenants.HasActiveApiKeysAsync(cancellationToken).ConfigureAwait(false);
        _keysRequired = (any, now + CacheTime);
        return any;
    }

    private async Task<ApiKeyRecord?> FindKeyAsync(string keyId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_keys.TryGetValue(keyId, out var cached) && cached.Until > now)
        {
            return cached.Key;
        }

        var key = await tenants.GetApiKeyAsync(keyId, cancellationToken).ConfigureAwait(false);
        if (key is null)
        {
            // Unknown ids are not cached: made-up ids must not fill the cache.
            return null;
        }

        if (_keys.Count >= MaxCachedKeys)
        {
            _keys.Clear();
        }

        _keys[keyId] = (key, now + CacheTime);
        return key;
    }
}
