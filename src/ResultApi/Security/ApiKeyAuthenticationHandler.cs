using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Security;

/// <summary>
/// Turns the <c>Authorization: Bearer</c> key into a principal: the admin key into the <see cref="ApiRoles.Admin"/> and
/// <see cref="ApiRoles.Ops"/> roles, a tenant's valid key into its tenant (<see cref="ApiClaims.Tenant"/>) and the
/// <see cref="ApiRoles.Tenant"/> role. A key that is sent is always checked: an unknown or revoked one fails. Where keys are
/// not required (the open embedded default), a request without a key acts for the default tenant, and every caller is an
/// operator; that principal is not authenticated, so a policy it does not meet (admin) answers it 401, not 403.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyPolicy policy,
    ITenantStore tenants,
    IProblemDetailsService problems) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var keysRequired = policy.KeysRequired;
        var presented = ReadBearer(Request);
        if (presented is null)
        {
            return keysRequired
                ? AuthenticateResult.NoResult()
                : Success(new ClaimsIdentity(TenantClaims(Tenants.DefaultTenantId, keysRequired))); // no authentication type: anonymous
        }

        if (policy.IsAdminKey(presented))
        {
            return Success(new ClaimsIdentity([new Claim(ClaimTypes.Role, ApiRoles.Admin), new Claim(ClaimTypes.Role, ApiRoles.Ops)], SchemeName));
        }

        return await FindTenantAsync(presented, Context.RequestAborted) is { } tenantId
            ? Success(new ClaimsIdentity(TenantClaims(tenantId, keysRequired), SchemeName))
            : AuthenticateResult.Fail("The API key is unknown or revoked.");
    }

    /// <summary>401 with a ProblemDetails body saying whether a key was missing or not valid.</summary>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        await ChallengeAsync(result.Failure is null
            ? ("API key required", "Send an API key as 'Authorization: Bearer <key>'.")
            : ("Invalid API key", "The API key is unknown or revoked."));
    }

    /// <summary>403 with a ProblemDetails body naming the key the endpoint takes; 401 for the open default's caller
    /// without a key, who may bring one.</summary>
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Context.User.Identity?.IsAuthenticated != true
            ? ChallengeAsync(("API key required", "Send an API key as 'Authorization: Bearer <key>'."))
            : RefuseAsync(StatusCodes.Status403Forbidden, Context.User.IsInRole(ApiRoles.Admin)
                ? ("Tenant key required", "The admin key manages tenants and keys; read and submit tenant data with one of the tenant's keys.")
                : ("Admin key required", "This endpoint takes the admin key."));

    /// <summary>The key a request presents as <c>Authorization: Bearer &lt;key&gt;</c>, or null.</summary>
    internal static string? ReadBearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && header.Length > scheme.Length ? header[scheme.Length..].Trim() : null;
    }

    private static AuthenticateResult Success(ClaimsIdentity identity) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));

    /// <summary>A tenant's caller; where keys are not required, everyone on the loopback is an operator too.</summary>
    private static List<Claim> TenantClaims(string tenantId, bool keysRequired)
    {
        List<Claim> claims = [new(ApiClaims.Tenant, tenantId), new(ClaimTypes.Role, ApiRoles.Tenant)];
        if (!keysRequired)
        {
            claims.Add(new Claim(ClaimTypes.Role, ApiRoles.Ops));
        }

        return claims;
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

    private Task ChallengeAsync((string Title, string Detail) problem)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return RefuseAsync(StatusCodes.Status401Unauthorized, problem);
    }

    private async Task RefuseAsync(int status, (string Title, string Detail) problem)
    {
        Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = problem.Title, Detail = problem.Detail },
        });
    }
}
