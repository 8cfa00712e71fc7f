using System.Text.RegularExpressions;

namespace AIaaS.Queue.Domain;

/// <summary>
/// How objects belong to tenants. Jobs and data files carry a tenant id. Model names are per tenant: a tenant's model
/// "iris" is stored as "acme/iris", so two tenants can each have "iris", while the default tenant's models keep their
/// plain names (which is also what every model registered before tenants existed becomes). Model names cannot hold
/// '/', so no tenant can name another's model.
/// </summary>
public static partial class Tenants
{
    /// <summary>The tenant of the open embedded default, and of every object stored before tenants existed.</summary>
    public const string DefaultTenantId = "default";

    private const char Separator = '/';

    /// <summary>Lower-case letters, digits and '-', 1-32, starting with a letter or digit: safe in a key, a URL and a model name.</summary>
    public static bool IsValidTenantId(string? id) => id is not null && TenantIdPattern().IsMatch(id);

    /// <summary>1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.</summary>
    public static bool IsValidModelName(string? name) => name is not null && ModelNamePattern().IsMatch(name);

    /// <summary>The tenant of a message or record that names none.</summary>
    public static string OrDefault(string? tenantId) => string.IsNullOrEmpty(tenantId) ? DefaultTenantId : tenantId;

    /// <summary>The stored name of a tenant's model.</summary>
    public static string QualifyModel(string tenantId, string name) =>
        tenantId == DefaultTenantId ? name : $"{tenantId}{Separator}{name}";

    /// <summary>The stored name for a model named in a message: qualified when it is a valid name, else kept as sent (such a
    /// job fails, and its record shows what was sent).</summary>
    public static string StoredModelName(string tenantId, string? name) => IsValidModelName(name) ? QualifyModel(tenantId, name!) : name ?? "";

    /// <summary>The name a tenant knows its model by, or null when <paramref name="storedName"/> is another tenant's.</summary>
    public static string? ModelNameFor(string tenantId, string storedName)
    {
        var separator = storedName.IndexOf(Separator, StringComparison.Ordinal);
        if (tenantId == DefaultTenantId)
        {
            return separator < 0 ? storedName : null;
        }

        return separator == tenantId.Length && storedName.StartsWith(tenantId, StringComparison.Ordinal) ? storedName[(separator + 1)..] : null;
    }

    /// <summary>The tenant a stored model name belongs to (model names hold no separator, so the qualification tells). For a
    /// message from an older producer that names a stored model and no tenant.</summary>
    public static string OfStoredModel(string storedName)
    {
        ArgumentNullException.ThrowIfNull(storedName);
        var separator = storedName.IndexOf(Separator, StringComparison.Ordinal);
        return separator < 0 ? DefaultTenantId : storedName[..separator];
    }

    /// <summary>The tenant of a message: the one it names, else (a message of an older producer) the one its stored model
    /// name tells.</summary>
    public static string OfMessage(string? tenantId, string storedModel) =>
        string.IsNullOrEmpty(tenantId) ? OfStoredModel(storedModel) : tenantId;

    /// <summary>The plain model name of a stored name, whatever its tenant (for messages such as webhook events, which go to the job's own tenant).</summary>
    public static string PlainModelName(string storedName) => storedName[(storedName.IndexOf(Separator, StringComparison.Ordinal) + 1)..];

    // \z, not $: "$" also matches before a final "\n", which let "zz\n" through as a tenant id and "m\n" as a model name.
    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,31}\z")]
    private static partial Regex TenantIdPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z")]
    private static partial Regex ModelNamePattern();
}
