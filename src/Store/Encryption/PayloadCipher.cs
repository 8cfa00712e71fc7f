using System.Security.Cryptography;
using System.Text;

namespace AIaaS.Queue.Store;

/// <summary>
/// AES-GCM from the base class library. Each tenant has a random 256-bit data key, stored only wrapped by a master key
/// (<see cref="IMasterKeys"/>); each payload is sealed by its tenant's data key with a fresh 96-bit nonce, and bound to
/// where it belongs (the associated data: tenant and record id), so a sealed value copied to another record does not
/// open. A sealed value is <c>version (1) | nonce (12) | tag (16) | ciphertext</c>. A stored data key is
/// <c>2 | id length (1) | master key id (UTF-8) | wrapped key</c>; one stored before master keys had ids is the bare
/// sealed value (version 1), and names no key.
/// </summary>
internal sealed class PayloadCipher(IMasterKeys masterKeys)
{
    public const int KeySize = 32;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const byte Version = 1;
    private const byte KeyEnvelopeVersion = 2;

    public PayloadCipher(byte[] masterKey)
        : this(new LocalMasterKeys(masterKey))
    {
    }

    /// <summary>The associated data of a wrapped data key, and of the check value that tells a wrong master key at once.</summary>
    private static byte[] KeyPurpose(string tenantId) => Encoding.UTF8.GetBytes("aiaas-data-key:" + tenantId);

    public static bool IsSealed(ReadOnlySpan<byte> value) => value.Length > 1 + NonceSize + TagSize && value[0] == Version;

    /// <summary>A new data key for <paramref name="tenantId"/> and its stored form, wrapped under the current master key.</summary>
    public (byte[] Key, byte[] Wrapped) NewDataKey(string tenantId)
    {
        var key = RandomNumberGenerator.GetBytes(KeySize);
        return (key, Envelope(masterKeys.CurrentKeyId, masterKeys.Wrap(key, KeyPurpose(tenantId))));
    }

    /// <summary>Opens a stored data key; a master key other than the one that wrapped it fails loudly.</summary>
    public byte[] UnwrapDataKey(string tenantId, byte[] wrapped)
    {
        var (keyId, body) = ReadEnvelope(wrapped);
        try
        {
            return masterKeys.Unwrap(keyId, body, KeyPurpose(tenantId));
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException(
                $"The store's data key for tenant '{tenantId}' does not open with the configured master key (Store:Encryption"
                + (keyId is null ? "" : $"; it was wrapped under {keyId}") + "): this is not the key the store was encrypted with. "
                + "After a rotation, keep the old key under Store:Encryption:RetiredMasterKeys until the re-wrap has run.", ex);
        }
    }

    /// <summary>Whether a stored data key is wrapped under another master key than the current one (a re-wrap moves it).</summary>
    public bool IsWrappedUnderOlderKey(byte[] wrapped) => ReadEnvelope(wrapped).KeyId != masterKeys.CurrentKeyId;

    /// <summary>The same data key, wrapped under the current master key: the data sealed with it stays as it is.</summary>
    public byte[] Rewrap(string tenantId, byte[] wrapped) =>
        Envelope(masterKeys.CurrentKeyId, masterKeys.Wrap(UnwrapDataKey(tenantId, wrapped), KeyPurpose(tenantId)));

    private static byte[] Envelope(string keyId, byte[] wrapped)
    {
        var id = Encoding.UTF8.GetBytes(keyId);
        if (id.Length is 0 or > byte.MaxValue)
        {
            throw new InvalidOperationException($"A master key id must be 1 to 255 bytes; '{keyId}' is {id.Length}.");
        }

        return [KeyEnvelopeVersion, (byte)id.Length, .. id, .. wrapped];
    }

    private static (string? KeyId, byte[] Wrapped) ReadEnvelope(byte[] stored)
    {
        if (stored.Length > 2 && stored[0] == KeyEnvelopeVersion && stored.Length > 2 + stored[1])
        {
            return (Encoding.UTF8.GetString(stored, 2, stored[1]), stored[(2 + stored[1])..]);
        }

        return (null, stored);
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
