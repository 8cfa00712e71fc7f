using System.Security.Cryptography;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Caching.Memory;
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
public sealed class SenderVerifier(ITenantStore tenants, IOptions<SecurityOptions> options, TimeProvider time) : IDisposable
{
    private static readonly TimeSpan CacheTime = TimeSpan.FromSeconds(5);
    private const int MaxCachedKeys = 10_000;

    /// <summary>Key records by key id (size 1 each, so at most <see cref="MaxCachedKeys"/>), and the "are keys required" answer.</summary>
    private readonly MemoryCache _cache = new(new MemoryCacheOptions { Clock = new TimeProviderClock(time), SizeLimit = MaxCachedKeys + 1 });
    private static readonly object KeysRequiredEntry = new();

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

        if (_cache.TryGetValue(KeysRequiredEntry, out bool cached))
        {
            return cached;
        }

        var any = await tenants.HasActiveApiKeysAsync(cancellationToken).ConfigureAwait(false);
        _cache.Set(KeysRequiredEntry, any, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = CacheTime, Size = 1 });
        return any;
    }

    private async Task<ApiKeyRecord?> FindKeyAsync(string keyId, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue(keyId, out ApiKeyRecord? cached))
        {
            return cached;
        }

        var key = await tenants.GetApiKeyAsync(keyId, cancellationToken).ConfigureAwait(false);
        if (key is null)
        {
            // Unknown ids are not cached: made-up ids must not fill the cache.
            return null;
        }

        // Past the size limit the entry is not kept and the cache compacts: the store is read again, never more than that.
        _cache.Set(keyId, key, new MemoryCacheEntryOptions { AbsoluteExpirationRelativeToNow = CacheTime, Size = 1 });
        return key;
    }

    public void Dispose() => _cache.Dispose();
}
