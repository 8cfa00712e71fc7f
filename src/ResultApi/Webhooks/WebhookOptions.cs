using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Webhooks;

/// <summary>Signed webhook callbacks (configuration section <c>Webhooks</c>). With no secret configured, webhooks are off
/// and jobs naming a callback URL are refused by the API.</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>Signing secrets in the Standard Webhooks form <c>whsec_</c> + base64. Every event is signed with each, so a
    /// receiver keeps verifying while a secret is rotated: add the new one, move receivers over, remove the old one.</summary>
    public List<string> Secrets { get; set; } = [];

    /// <summary>Host names or IP addresses that may be targeted even though they are private, loopback or link-local.</summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>Allow any private, loopback or link-local target (for a deployment whose receivers live on its own network).</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Base address of this API as receivers reach it, for the links in events; null gives relative links.</summary>
    public Uri? PublicBaseUrl { get; set; }

    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 8;

    [Range(typeof(TimeSpan), "00:00:00.1", "00:10:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Delay before the first retry; it doubles per attempt (with jitter) up to <see cref="MaxBackoff"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.01", "1.00:00:00")]
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.01", "7.00:00:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often the dispatcher looks for due deliveries when nothing wakes it (deliveries scheduled by another instance).</summary>
    [Range(typeof(TimeSpan), "00:00:00.05", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    public bool Enabled => Secrets.Count > 0;

    /// <summary>The raw keys of <see cref="Secrets"/>.</summary>
    public IReadOnlyList<byte[]> SigningKeys() => Secrets.Select(WebhookSigner.DecodeSecret).ToArray();
}

internal sealed class WebhookOptionsValidator : IValidateOptions<WebhookOptions>
{
    public ValidateOptionsResult Validate(string? name, WebhookOptions options)
    {
        foreach (var secret in options.Secrets)
        {
            try
            {
                WebhookSigner.DecodeSecret(secret);
            }
            catch (FormatException ex)
            {
                return ValidateOptionsResult.Fail($"Webhooks:Secrets: {ex.Message}");
            }
        }

        return options.MaxBackoff < options.InitialBackoff
            ? ValidateOptionsResult.Fail("Webhooks:MaxBackoff must not be below Webhooks:InitialBackoff.")
            : ValidateOptionsResult.Success;
    }
}
