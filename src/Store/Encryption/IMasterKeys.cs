namespace AIaaS.Queue.Store;

/// <summary>
/// Wraps and unwraps tenants' data keys under master keys that payloads never touch. <see cref="LocalMasterKeys"/> holds
/// them from configuration; a key service plugs in behind the same three members (AWS KMS <c>Encrypt</c>/<c>Decrypt</c>
/// with the context as the encryption context, Azure Key Vault <c>wrapKey</c>/<c>unwrapKey</c>), registered
/// in the container before <c>AddAiaasStore</c>. Calls are synchronous because the store unwraps a tenant's key inside a
/// write transaction; each process unwraps a tenant's key once and keeps it in memory, so a remote service is asked once
/// per tenant per process.
/// </summary>
public interface IMasterKeys
{
    /// <summary>The id of the master key new data keys are wrapped with; stored next to each wrapped key, so that a
    /// rotation leaves the keys wrapped before it readable and the re-wrap command can tell which ones to move.</summary>
    string CurrentKeyId { get; }

    /// <summary>Wraps <paramref name="dataKey"/> under the current master key, bound to <paramref name="context"/>.</summary>
    byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> context);

    /// <summary>Unwraps a data key wrapped under master key <paramref name="keyId"/> (null: a key stored before master keys
    /// had ids, wrapped under one of the configured keys). Throws <see cref="System.Security.Cryptography.CryptographicException"/>
    /// when no configured key opens it.</summary>
    byte[] Unwrap(string? keyId, byte[] wrapped, ReadOnlySpan<byte> context);
}
