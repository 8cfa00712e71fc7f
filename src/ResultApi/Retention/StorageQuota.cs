using AIaaS.Queue.Store;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Retention;

/// <summary>Per-tenant storage quotas (configuration section <c>Quotas</c>): the bytes a tenant may hold in uploaded files and
/// bulk jobs' stored chunks. Null, in both places, means no quota.</summary>
public sealed class QuotaOptions
{
    public const string SectionName = "Quotas";

    /// <summary>The quota of every tenant without one of its own.</summary>
    public long? StorageBytes { get; set; }

    /// <summary>Per-tenant quotas, by tenant id.</summary>
    public Dictionary<string, long> Tenants { get; set; } = new(StringComparer.Ordinal);

    public long? For(string tenantId) => Tenants.TryGetValue(tenantId, out var quota) ? quota : StorageBytes;
}

/// <summary>
/// Decides whether a tenant may store more: asked before an upload or a bulk job is accepted, never by the workers, so
/// work already accepted runs to its end even when it takes the tenant past the quota. A tenant at or past its quota, or one
/// whose announced upload would take it past, is refused with the numbers. Job outputs of single predict jobs are not counted:
/// they are small, and their retention bounds them.
/// </summary>
public sealed class StorageQuota(IRetentionStore store, IOptions<QuotaOptions> options)
{
    /// <summary>Why the tenant may not store <paramref name="incomingBytes"/> more (unknown: null), or null when it may.</summary>
    public async Task<string?> RefusalAsync(string tenantId, long? incomingBytes, CancellationToken cancellationToken)
    {
        if (options.Value.For(tenantId) is not { } quota)
        {
            return null;
        }

        var used = await store.GetStoredBytesAsync(tenantId, cancellationToken);
        var incoming = incomingBytes ?? 0;
        if (used < quota && used + incoming <= quota)
        {
            return null;
        }

        return $"Tenant '{tenantId}' stores {used} bytes of files and bulk results{(incoming > 0 ? $", this upload would add {incoming}" : "")}, " +
            $"and its storage quota is {quota} bytes (Quotas). Work already accepted still completes; delete files, or wait for retention to " +
            "remove old ones, then try again.";
    }
}

internal sealed class QuotaOptionsValidator : IValidateOptions<QuotaOptions>
{
    public ValidateOptionsResult Validate(string? name, QuotaOptions options) =>
        options.StorageBytes is < 0 || options.Tenants.Values.Any(q => q < 0)
            ? ValidateOptionsResult.Fail("Quotas: a storage quota must not be negative.")
            : ValidateOptionsResult.Success;
}
