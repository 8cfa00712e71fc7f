using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;

namespace AIaaS.Queue.ResultApi.Security;

/// <summary>The policies that route groups state: who may call them.</summary>
public static class ApiPolicies
{
    /// <summary>Tenant data (jobs, models, data files, bulk jobs): a tenant's key, or no key on the open default.</summary>
    public const string Tenant = "tenant";

    /// <summary>Tenants and keys: the admin key only.</summary>
    public const string Admin = "admin";

    /// <summary>Queues, throughput and metrics, which show every tenant's queues and models: the admin key where keys are
    /// required, anyone where they are not.</summary>
    public const string Ops = "ops";
}

/// <summary>The roles <see cref="ApiKeyAuthenticationHandler"/> gives, one per policy.</summary>
public static class ApiRoles
{
    public const string Tenant = "tenant";
    public const string Admin = "admin";
    public const string Ops = "ops";
}

public static class ApiClaims
{
    /// <summary>The tenant a caller acts for.</summary>
    public const string Tenant = "aiaas:tenant";
}

public static class ApiAuthorizationExtensions
{
    /// <summary>API key authentication and the <see cref="ApiPolicies"/>. An endpoint that states no policy takes the
    /// tenant policy, so that nothing is open by omission; health and the dashboard's static files opt out.</summary>
    public static IServiceCollection AddApiKeyAuthorization(this IServiceCollection services)
    {
        services.AddSingleton<ApiKeyPolicy>();
        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, configureOptions: null);
        var tenant = new AuthorizationPolicyBuilder().RequireRole(ApiRoles.Tenant).Build();
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicies.Tenant, tenant)
            .AddPolicy(ApiPolicies.Admin, policy => policy.RequireRole(ApiRoles.Admin))
            .AddPolicy(ApiPolicies.Ops, policy => policy.RequireRole(ApiRoles.Ops))
            .SetFallbackPolicy(tenant);
        return services;
    }
}
