namespace AIaaS.Queue.ServiceDefaults;

/// <summary>Tenants and API keys (configuration section <c>Security</c>). Every process reads <see cref="RequireApiKeys"/>;
/// only the ResultApi reads the admin key.</summary>
public sealed class SecurityOptions
{
    public const string SectionName = "Security";

    /// <summary>
    /// True: every request and every command must carry a valid API key. False: open, as the embedded default is
    /// (everything belongs to the default tenant). Null decides by itself: the ResultApi requires keys when it listens
    /// on any address that is not loopback or when an admin key is configured; a worker requires them as soon as the
    /// store holds an active key.
    /// </summary>
    public bool? RequireApiKeys { get; set; }

    /// <summary>The admin key, which manages tenants and keys and reads the operations endpoints. Prefer
    /// <see cref="AdminKeyHash"/>, so that the key itself is in no configuration file.</summary>
    public string? AdminKey { get; set; }

    /// <summary>Hex SHA-256 of the admin key (<c>printf %s "$KEY" | sha256sum</c>).</summary>
    public string? AdminKeyHash { get; set; }

    public bool HasAdminKey => !string.IsNullOrEmpty(AdminKey) || !string.IsNullOrEmpty(AdminKeyHash);
}
