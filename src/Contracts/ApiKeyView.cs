namespace AIaaS.Queue.Contracts;

/// <summary>A tenant's API key as the admin API shows it. Only the hash is stored, so <see cref="Key"/> is set once, in
/// the answer that created the key, and never again.</summary>
public sealed record ApiKeyView
{
    public required string KeyId { get; init; }
    public required string TenantId { get; init; }
    public string? Name { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>The key itself: in the creating answer only.</summary>
    public string? Key { get; init; }
}
