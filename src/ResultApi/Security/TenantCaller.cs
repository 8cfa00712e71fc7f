using System.Reflection;
using System.Security.Claims;

namespace AIaaS.Queue.ResultApi.Security;

/// <summary>
/// The tenant a request acts for, from the principal <see cref="ApiKeyAuthenticationHandler"/> made of its key. Endpoints
/// take it as a parameter and read, list and write only this tenant's objects.
/// </summary>
/// <param name="TenantId">The caller's tenant (the default tenant on the open embedded default).</param>
/// <param name="ApiKey">The key the request presented, held for the request only, so that commands the API publishes on
/// the caller's behalf carry a proof of it; null on the open default.</param>
public sealed record TenantCaller(string TenantId, string? ApiKey)
{
    /// <summary>Minimal API binding: the caller's tenant claim and, when a key authenticated it, that key.</summary>
    public static ValueTask<TenantCaller?> BindAsync(HttpContext context, ParameterInfo parameter) =>
        ValueTask.FromResult(context.User.FindFirstValue(ApiClaims.Tenant) is { } tenantId
            ? new TenantCaller(tenantId, context.User.Identity?.IsAuthenticated == true ? ApiKeyAuthenticationHandler.ReadBearer(context.Request) : null)
            : null);
}
