namespace AIaaS.Queue.Contracts;

/// <summary>
/// Who sends a command: the tenant and, where keys are required, proof of one of the tenant's API keys. The key itself
/// never travels on the broker: the proof is an HMAC over the command's purpose, tenant and job id, keyed with the
/// key's SHA-256 (which workers find in the store), so a copied proof is good for that one command only.
/// See <see cref="ApiKeyFormat"/>.
/// </summary>
public sealed record TenantCredentials
{
    /// <summary>The tenant; null or empty is the default tenant of the open embedded default.</summary>
    public string? TenantId { get; init; }

    /// <summary>The public id inside the API key; null without a key.</summary>
    public string? KeyId { get; init; }

    /// <summary><see cref="ApiKeyFormat.Proof"/> for this command.</summary>
    public string? Proof { get; init; }
}
