using System.Security.Cryptography;

namespace AIaaS.Queue.Store;

/// <summary>
/// Master keys held by the process (<c>Store:Encryption</c>): the current one wraps new data keys, retired ones only
/// unwrap what they wrapped before a rotation. A key's id is a fingerprint (the first 8 bytes of its SHA-256, in hex),
/// which names the key without revealing it.
/// </summary>
public sealed class LocalMasterKeys : IMasterKeys
{
    private readonly byte[] _current;
    private readonly Dictionary<string, byte[]> _byId = new(StringComparer.Ordinal);

    public LocalMasterKeys(byte[] current, IEnumerable<byte[]>? retired = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        _current = CheckSize(current);
        CurrentKeyId = IdOf(current);
        _byId[CurrentKeyId] = current;
        foreach (var key in retired ?? [])
        {
            _byId.TryAdd(IdOf(CheckSize(key)), key);
        }
    }

    public string CurrentKeyId { get; }

    public static string IdOf(ReadOnlySpan<byte> masterKey) => "local:" + Convert.ToHexStringLower(SHA256.HashData(masterKey)[..8]);

    public byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> context) => PayloadCipher.Seal(_current, dataKey, context);

    public byte[] Unwrap(string? keyId, byte[] wrapped, ReadOnlySpan<byte> context)
    {
        if (keyId is not null)
        {
            return _byId.TryGetValue(keyId, out var key)
                ? PayloadCipher.Open(key, wrapped, context)
                : throw new CryptographicException($"Master key {keyId} is not configured (neither Store:Encryption:MasterKey nor a retired key).");
        }

        // Keys stored before master keys had ids name none: the current key first, as it is the likeliest.
        foreach (var key in _byId.Values.Prepend(_current))
        {
            try
            {
                return PayloadCipher.Open(key, wrapped, context);
            }
            catch (CryptographicException)
            {
            }
        }

        throw new CryptographicException("No configured master key opens this data key.");
    }

    private static byte[] CheckSize(byte[] key) => key.Length == PayloadCipher.KeySize
        ? key
        : throw new InvalidOperationException($"A master key must be {PayloadCipher.KeySize} bytes (base64); one is {key.Length}.");
}
