using System.Security.Cryptography;
using System.Text;

namespace AIaaS.Queue.ResultApi.Webhooks;

/// <summary>Standard Webhooks signing: <c>v1,</c> + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), one per key, space-separated.</summary>
public static class WebhookSigner
{
    private const string SecretPrefix = "whsec_";

    public static byte[] DecodeSecret(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            throw new FormatException("a webhook secret starts with 'whsec_' followed by base64.");
        }

        var key = Convert.FromBase64String(secret[SecretPrefix.Length..]);
        return key.Length >= 24 ? key : throw new FormatException("a webhook secret needs at least 24 bytes of key.");
    }

    /// <summary>A new random secret in the <c>whsec_</c> form.</summary>
    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string Sign(IEnumerable<byte[]> keys, string id, long timestamp, string body)
    {
        var content = Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}");
        return string.Join(' ', keys.Select(key => "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content))));
    }
}
