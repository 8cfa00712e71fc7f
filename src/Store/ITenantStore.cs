using AIaaS.Queue.Domain;

namespace AIaaS.Queue.Store;

/// <summary>
/// Tenants and their API keys. Keys are stored only as the SHA-256 of the key: a key is 256 random bits, so an
/// unsalted hash cannot be reversed or guessed, and the plain key exists only in the answer that created it.
/// </summary>
public interface ITenantStore
{
    /// <summary>Creates a tenant; returns false when the id is taken. The tenant <see cref="Tenants.DefaultTenantId"/> always exists.</summary>
    Task<bool> CreateTenantAsync(TenantRecord tenant, CancellationToken cancellationToken = default);

    Task<TenantRecord?> GetTenantAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>Every tenant, by id.</summary>
    Task<IReadOnlyList<TenantRecord>> ListTenantsAsync(CancellationToken cancellationToken = default);

    Task AddApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>A key by its public id, revoked or not; null when unknown.</summary>
    Task<ApiKeyRecord?> GetApiKeyAsync(string keyId, CancellationToken cancellationToken = default);

    /// <summary>A tenant's keys, oldest first, revoked ones included.</summary>
    Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>Marks the tenant's key revoked; false when the tenant has no such key or it was revoked already.</summary>
    Task<bool> RevokeApiKeyAsync(string tenantId, string keyId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    /// <summary>Whether any key that is not revoked exists: once one does, workers refuse messages without a key.</summary>
    Task<bool> HasActiveApiKeysAsync(CancellationToken cancellationToken = default);
}

public sealed record TenantRecord
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

public sealed record ApiKeyRecord
{
    /// <summary>The public part of the key, also inside the key itself, so a presented key is found without a hash index.</summary>
    public required string KeyId { get; init; }
    public required string TenantId { get; init; }

    /// <summary>Lower-case hex SHA-256 of the whole key.</summary>
    public required string Sha256 { get; init; }
    public string? Name { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }
}
