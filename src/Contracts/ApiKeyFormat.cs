using System.Security.Cryptography;
using System.Text;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// The shape of API keys and of the proofs commands carry: part of the wire, like <see cref="WireJson"/>, so that the
/// SDK, the ResultApi and the workers compute them alike. A key reads <c>aiaas_{tenant}_{keyId}_{secret}</c>: the tenant
/// and key id are public (the server finds the key's hash by its id), the secret is 256 random bits.
/// </summary>
public static class ApiKeyFormat
{
    public const string Prefix = "aiaas_";

    /// <summary>Purposes a proof is bound to, so that a proof for one command cannot be replayed as another.</summary>
    public const string PredictPurpose = "predict", TrainPurpose = "train", CancelPurpose = "cancel", BulkPurpose = "bulk";

    private const int KeyIdBytes = 8, SecretBytes = 32;

    /// <summary>A new key for <paramref name="tenantId"/>, and its id.</summary>
    public static (string Key, string KeyId) Generate(string tenantId)
    {
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(KeyIdBytes));
        return ($"{Prefix}{tenantId}_{keyId}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SecretBytes))}", keyId);
    }

    /// <summary>The tenant and key id a key names, or null when it is not shaped like a key. Says nothing about validity.</summary>
    public static (string TenantId, string KeyId)? Parse(string? key)
    {
        if (key is null || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = key[Prefix.Length..].Split('_');
        return parts is [{ Length: > 0 } tenant, { Length: KeyIdBytes * 2 } keyId, { Length: SecretBytes * 2 }] ? (tenant, keyId) : null;
    }

    /// <summary>Lower-case hex SHA-256 of the key: what the store keeps.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The proof a command for <paramref name="jobId"/> carries: base64 HMAC-SHA256 keyed with the key's hash.</summary>
    public static string Proof(string keyHash, string purpose, string tenantId, Guid jobId) =>
        Convert.ToBase64String(HMACSHA256.HashData(Convert.FromHexString(keyHash), Encoding.UTF8.GetBytes($"{purpose}\n{tenantId}\n{jobId:D}")));

    /// <summary>Credentials for one command, from the caller's key (null on the open default: tenant only).</summary>
    public static TenantCredentials Credentials(string? apiKey, string purpose, Guid jobId)
    {
        if (Parse(apiKey) is not var (tenantId, keyId))
        {
            return new TenantCredentials();
        }

        return new TenantCredentials { TenantId = tenantId, KeyId = keyId, Proof = Proof(Hash(apiKey!), purpose, tenantId, jobId) };
    }
}
