namespace AIaaS.Queue.Store;

/// <summary>Encryption at rest of customer payloads (section <c>Store:Encryption</c>), off by default.</summary>
public sealed class EncryptionOptions
{
    public bool Enabled { get; set; }

    /// <summary>The master key: 32 bytes, base64. It wraps each tenant's data key and never touches a payload itself.</summary>
    public string? MasterKey { get; set; }

    /// <summary>A file holding the master key (base64), for a secret mounted from a vault; used when <see cref="MasterKey"/> is not set.</summary>
    public string? MasterKeyFile { get; set; }

    /// <summary>Master keys rotated out (base64 each): they still open the data keys they wrapped, until
    /// <c>aiaas admin rewrap-keys</c> has moved those under the current key.</summary>
    public IList<string> RetiredMasterKeys { get; } = [];

    /// <summary>Files each holding a retired master key (base64).</summary>
    public IList<string> RetiredMasterKeyFiles { get; } = [];

    /// <summary>The master key's 32 bytes, or null when encryption is off.</summary>
    public byte[]? ReadMasterKey()
    {
        if (!Enabled)
        {
            return null;
        }

        var text = MasterKey ?? (MasterKeyFile is { } file ? File.ReadAllText(file) : null)
            ?? throw new InvalidOperationException("Store:Encryption:Enabled is true but neither Store:Encryption:MasterKey nor MasterKeyFile is set.");
        return Decode(text, "The master key");
    }

    /// <summary>The configured master keys, current and retired, or null when encryption is off.</summary>
    public LocalMasterKeys? ReadMasterKeys()
    {
        if (ReadMasterKey() is not { } current)
        {
            return null;
        }

        var retired = RetiredMasterKeys.Select(k => Decode(k, "A retired master key"))
            .Concat(RetiredMasterKeyFiles.Select(f => Decode(File.ReadAllText(f), $"The retired master key in {Path.GetFileName(f)}")));
        return new LocalMasterKeys(current, retired.ToList());
    }

    private static byte[] Decode(string text, string what)
    {
        var key = Convert.FromBase64String(text.Trim());
        return key.Length == PayloadCipher.KeySize
            ? key
            : throw new InvalidOperationException($"{what} must be {PayloadCipher.KeySize} bytes (base64); it is {key.Length}.");
    }
}
