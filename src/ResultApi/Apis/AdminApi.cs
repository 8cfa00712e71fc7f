using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>Tenants and their API keys, for the admin key only (the admin policy, put on this group where it is mapped).</summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/admin/tenants").WithTags("Admin");
        api.MapPost("/", CreateTenant).WithName("CreateTenant").WithSummary("Creates a tenant; ids are 1-32 lower-case letters, digits or '-'.");
        api.MapGet("/", ListTenants).WithName("ListTenants").WithSummary("Every tenant, by id.");
        api.MapPost("/{tenantId}/keys", CreateKey).WithName("CreateApiKey")
            .WithSummary("Creates an API key for the tenant and returns it once; only its hash is stored.");
        api.MapGet("/{tenantId}/keys", ListKeys).WithName("ListApiKeys").WithSummary("The tenant's keys (ids and dates, never the keys).");
        api.MapDelete("/{tenantId}/keys/{keyId}", RevokeKey).WithName("RevokeApiKey").WithSummary("Revokes a key at once.");
        return app;
    }

    public static async Task<Results<Created<TenantView>, ProblemHttpResult>> CreateTenant(
        CreateTenantRequest request, ITenantStore tenants, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Tenants.IsValidTenantId(request.Id))
        {
            return Problems.Create(StatusCodes.Status400BadRequest, "Invalid tenant", "Tenant ids are 1-32 lower-case letters, digits or '-', starting with a letter or digit.");
        }

        var tenant = new TenantRecord { Id = request.Id, Name = request.Name, CreatedAt = time.GetUtcNow() };
        return await tenants.CreateTenantAsync(tenant, cancellationToken)
            ? TypedResults.Created($"/v1/admin/tenants/{tenant.Id}", ToView(tenant))
            : Problems.Create(StatusCodes.Status409Conflict, "Tenant exists", $"Tenant {tenant.Id} exists already.");
    }

    public static async Task<Ok<IReadOnlyList<TenantView>>> ListTenants(ITenantStore tenants, CancellationToken cancellationToken) =>
        TypedResults.Ok<IReadOnlyList<TenantView>>((await tenants.ListTenantsAsync(cancellationToken)).Select(ToView).ToArray());

    public static async Task<Results<Created<ApiKeyView>, ProblemHttpResult>> CreateKey(
        string tenantId, CreateApiKeyRequest? request, ITenantStore tenants, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await tenants.GetTenantAsync(tenantId, cancellationToken) is null)
        {
            return UnknownTenant(tenantId);
        }

        var (key, keyId) = ApiKeyFormat.Generate(tenantId);
        var record = new ApiKeyRecord
        {
            KeyId = keyId,
            TenantId = tenantId,
            Sha256 = ApiKeyFormat.Hash(key),
            Name = request?.Name,
            CreatedAt = time.GetUtcNow(),
        };
        await tenants.AddApiKeyAsync(record, cancellationToken);
        return TypedResults.Created($"/v1/admin/tenants/{tenantId}/keys/{keyId}", ToView(record) with { Key = key });
    }

    public static async Task<Results<Ok<IReadOnlyList<ApiKeyView>>, ProblemHttpResult>> ListKeys(
        string tenantId, ITenantStore tenants, CancellationToken cancellationToken)
    {
        if (await tenants.GetTenantAsync(tenantId, cancellationToken) is null)
        {
            return UnknownTenant(tenantId);
        }

        return TypedResults.Ok<IReadOnlyList<ApiKeyView>>((await tenants.ListApiKeysAsync(tenantId, cancellationToken)).Select(ToView).ToArray());
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKey(
        string tenantId, string keyId, ITenantStore tenants, TimeProvider time, CancellationToken cancellationToken) =>
        await tenants.RevokeApiKeyAsync(tenantId, keyId, time.GetUtcNow(), cancellationToken)
            ? TypedResults.NoContent()
            : Problems.Create(StatusCodes.Status404NotFound, "Unknown key", $"Tenant {tenantId} has no active key {keyId}.");

    private static TenantView ToView(TenantRecord tenant) => new() { Id = tenant.Id, Name = tenant.Name, CreatedAt = tenant.CreatedAt };

    private static ApiKeyView ToView(ApiKeyRecord key) => new()
    {
        KeyId = key.KeyId,
        TenantId = key.TenantId,
        Name = key.Name,
        CreatedAt = key.CreatedAt,
        RevokedAt = key.RevokedAt,
    };

    private static ProblemHttpResult UnknownTenant(string tenantId) =>
        Problems.Create(StatusCodes.Status404NotFound, "Unknown tenant", $"No tenant {tenantId} exists.");
}

public sealed record CreateTenantRequest(string Id, string? Name);

public sealed record CreateApiKeyRequest(string? Name);
