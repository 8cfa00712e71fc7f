using System.Net;
using System.Security.Cryptography;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Security;

/// <summary>
/// Authenticates every request by its <c>Authorization: Bearer</c> key and decides what it may reach, deny by default:
/// health and the dashboard's static files are open; <c>/v1/admin</c> takes the admin key; <c>/v1/ops</c> and the metrics
/// endpoint take the admin key when keys are required (they show every tenant's queues and models); every other path
/// takes a tenant key, or, when keys are not required, no key (the default tenant). A key that is sent is always checked.
/// </summary>
public sealed class ApiKeyMiddleware(RequestDelegate next, ApiKeyPolicy policy, ITenantStore tenants, IProblemDetailsService problems)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/health") || path.StartsWithSegments("/dashboard"))
        {
            await next(context);
            return;
        }

        var presented = ReadBearer(context.Request);
        var adminPath = path.StartsWithSegments("/v1/admin");
        var operatorPath = path.StartsWithSegments("/v1/ops") || path.StartsWithSegments(policy.MetricsPath);
        var keysRequired = policy.KeysRequired;
        if (presented is null && !adminPath && !keysRequired)
        {
            context.Features.Set(new TenantCaller(Tenants.DefaultTenantId, null));
            await next(context);
            return;
        }

        if (presented is null)
        {
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, "API key required",
                "Send an API key as 'Authorization: Bearer <key>'.");
            return;
        }

        if (policy.IsAdminKey(presented))
        {
            if (adminPath || operatorPath)
            {
                await next(context);
                return;
            }

            await RefuseAsync(context, StatusCodes.Status403Forbidden, "Tenant key required",
                "The admin key manages tenants and keys; read and submit tenant data with one of the tenant's keys.");
            return;
        }

        var tenantId = await FindTenantAsync(presented, context.RequestAborted);
        if (tenantId is null)
        {
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, "Invalid API key", "The API key is unknown or revoked.");
            return;
        }

        if (adminPath || (operatorPath && keysRequired))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, "Admin key required", "This endpoint takes the admin key.");
            return;
        }

        context.Features.Set(new TenantCaller(tenantId, presented));
        await next(context);
    }

    internal static string? ReadBearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && header.Length > scheme.Length ? header[scheme.Length..].Trim() : null;
    }

    /// <summary>The tenant of a valid, unrevoked key, comparing hashes in constant time.</summary>
    private async Task<string?> FindTenantAsync(string presented, CancellationToken cancellationToken)
    {
        if (ApiKeyFormat.Parse(presented) is not var (tenantId, keyId))
        {
            return null;
        }

        var key = await tenants.GetApiKeyAsync(keyId, cancellationToken);
        if (key is not { RevokedAt: null } || key.TenantId != tenantId)
        {
            return null;
        }

        return CryptographicOperations.FixedTimeEquals(Convert.FromHexString(key.Sha256), SHA256.HashData(Encoding.UTF8.GetBytes(presented)))
            ? tenantId
            : null;
    }

    private async Task RefuseAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}

/// <summary>Whether keys are required, and the admin key's hash. Decided once the server listens, from its addresses.</summary>
public sealed class ApiKeyPolicy
{
    private readonly byte[]? _adminKeyHash;
    private readonly bool? _configuredRequirement;
    private volatile bool _keysRequired = true; // closed until the addresses are known

    public ApiKeyPolicy(IOptions<SecurityOptions> options, IOptions<TelemetryOptions> telemetry)
    {
        var security = options.Value;
        _configuredRequirement = security.RequireApiKeys ?? (security.HasAdminKey ? true : null);
        _adminKeyHash = !string.IsNullOrEmpty(security.AdminKeyHash)
            ? Convert.FromHexString(security.AdminKeyHash.Trim())
            : !string.IsNullOrEmpty(security.AdminKey) ? SHA256.HashData(Encoding.UTF8.GetBytes(security.AdminKey)) : null;
        MetricsPath = telemetry.Value.PrometheusPath;
    }

    public bool KeysRequired => _keysRequired;

    public string MetricsPath { get; }

    public bool IsAdminKey(string presented) =>
        _adminKeyHash is not null && CryptographicOperations.FixedTimeEquals(_adminKeyHash, SHA256.HashData(Encoding.UTF8.GetBytes(presented)));

    /// <summary>Settles the policy for the addresses the server listens on; returns a reason to refuse to run, or null.</summary>
    public string? Settle(IReadOnlyCollection<string> addresses)
    {
        var exposed = addresses.Where(a => !IsLoopback(a)).ToArray();
        if (_configuredRequirement == false && exposed.Length > 0)
        {
            return $"Security:RequireApiKeys is false, so the API may only listen on loopback, but it listens on {string.Join(", ", exposed)}.";
        }

        _keysRequired = _configuredRequirement ?? exposed.Length > 0;
        return null;
    }

    private static bool IsLoopback(string address)
    {
        // Kestrel reports wildcards as "+", "*" or "[::]", which Uri does not parse as hosts: those are not loopback.
        if (!Uri.TryCreate(address.Replace("://+", "://wildcard", StringComparison.Ordinal).Replace("://*", "://wildcard", StringComparison.Ordinal),
                UriKind.Absolute, out var uri))
        {
            return false;
        }

        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }
}
