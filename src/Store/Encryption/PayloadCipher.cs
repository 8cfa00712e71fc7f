using System.Security.Cryptography;
using System.Text;

namespace AIaaS.Queue.Store;

/// <summary>Encryption at rest of customer payloads (section <c>Store:Encryption</c>), off by default.</summary>
public sealed class EncryptionOptions
{
    public bool Enabled { get; set; }

    /// <summary>The master key: 32 bytes, base64. It wraps each tenant's data key and never touches a payload itself.</summary>
    public string? MasterKey { get; set; }

    /// <summary>A file holding the master key (base64), for a secret mounted from a vault; used when <see cref="MasterKey"/> is not set.</summary>
    public string? MasterKeyFile { get; set; }

    /// <summary>The master key's 32 bytes, or null when encryption is off.</summary>
    public byte[]? ReadMasterKey()
    {
        if (!Enabled)
        {
            return null;
        }

        var text = MasterKey ?? (MasterKeyFile is { } file ? File.ReadAllText(file) : null)
            ?? throw new InvalidOperationException("Store:Encryption:Enabled is true but neither Store:Encryption:MasterKey nor MasterKeyFile is set.");
        var key = Convert.FromBase64String(text.Trim());
        return key.Length == PayloadCipher.KeySize
            ? key
            : throw new InvalidOperationException($"The master key must be {PayloadCipher.KeySize} bytes (base64); it is {key.Length}.");
    }
}

/// <summary>
/// AES-GCM from the base class library. Each tenant has a random 256-bit data key, stored only wrapped (sealed) by the master
/// key; each payload is sealed by its tenant's data key with a fresh 96-bit nonce, and bound to where it belongs (the
/// associated data: tenant and record id), so a sealed value copied to another record does not open. A sealed value is
/// <c>version (1) | nonce (12) | tag (16) | ciphertext</c>.
/// </summary>
internal sealed class PayloadCipher(byte[] masterKey)
{
    public const int KeySize = 32;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const byte Version = 1;

    /// <summary>The associated data of a wrapped data key, and of the check value that tells a wrong master key at once.</summary>
    private static byte[] KeyPurpose(string tenantId) => Encoding.UTF8.GetBytes("aiaas-data-key:" + tenantId);

    public static bool IsSealed(ReadOnlySpan<byte> value) => value.Length > 1 + NonceSize + TagSize && value[0] == Version;

    /// <summary>A new data key for <paramref name="tenantId"/> and its wrapped form, to store.</summary>
    public (byte[] Key, byte[] Wrapped) NewDataKey(string tenantId)
    {
        var key = RandomNumberGenerator.GetBytes(KeySize);
        return (key, Seal(masterKey, key, KeyPurpose(tenantId)));
    }

    /// <summary>Opens a wrapped data key; a master key other than the one that wrapped it fails loudly.</summary>
    public byte[] UnwrapDataKey(string tenantId, byte[] wrapped)
    {
        try
        {
            return Open(masterKey, wrapped, KeyPurpose(tenantId));
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException(
                $"The store's data key for tenant '{tenantId}' does not open with the configured master key (Store:Encryption): " +
                "this is not the key the store was encrypted with.", ex);
        }
    }

    public static byte[] Seal(byte[] key, ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        var sealedValue = new byte[1 + NonceSize + TagSize + plaintext.Length];
        sealedValue[0] = Version;
        var nonce = sealedValue.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plaintext, sealedValue.AsSpan(1 + NonceSize + TagSize), sealedValue.AsSpan(1 + NonceSize, TagSize), associatedData);
        return sealedValue;
    }

    public static byte[] Open(byte[] key, ReadOnlySpan<byte> sealedValue, ReadOnlySpan<byte> associatedData)
    {
        if (!IsSealed(sealedValue))
        {
            throw new CryptographicException("Not a sealed value of this store.");
        }

        var plaintext = new byte[sealedValue.Length - 1 - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(sealedValue.Slice(1, NonceSize), sealedValue[(1 + NonceSize + TagSize)..], sealedValue.Slice(1 + NonceSize, TagSize), plaintext, associatedData);
        return plaintext;
    }
}
