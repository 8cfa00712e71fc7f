namespace AIaaS.Queue.Contracts;

/// <summary>A tenant (<c>/v1/admin/tenants</c>): the owner of jobs, models, data files and webhook deliveries.</summary>
public sealed record TenantView
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}
