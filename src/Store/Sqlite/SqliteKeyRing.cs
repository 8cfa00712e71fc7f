using System.Collections.Concurrent;
using System.Text;
using Microsoft.Data.Sqlite;
using static AIaaS.Queue.Store.SqliteCommands;

namespace AIaaS.Queue.Store;

// Encryption at rest (Store:Encryption), so far for job outputs and explanations and bulk chunks (inputs and results): sealed with the
// tenant's data key and bound to where they lie. Uploaded files, train requests and webhook payloads are still stored in
// plain (issue #18, item 3).
// One ring per database file, so that every concern class of one file uses the same unwrapped keys.
internal sealed class SqliteKeyRing(IMasterKeys? masterKeys, TimeProvider time)
{
    // Null: encryption is off.
    private readonly PayloadCipher? _cipher = masterKeys is null ? null : new PayloadCipher(masterKeys);

    // Each tenant's unwrapped data key, once read.
    private readonly ConcurrentDictionary<string, byte[]> _dataKeys = new(StringComparer.Ordinal);

    /// <summary>A job's payload JSON as stored (<paramref name="kind"/>: <see cref="Outputs"/> or <see cref="Explanation"/>):
    /// itself when encryption is off, else sealed (a BLOB, where plaintext is TEXT) and bound to the job.</summary>
    public object SealJobPayload(SqliteCommand command, JobRecord job, string kind, string json)
    {
        if (_cipher is null)
        {
            return json;
        }

        var key = DataKey(command.Connection!, command.Transaction, job.TenantId, create: true);
        return PayloadCipher.Seal(key, Encoding.UTF8.GetBytes(json), JobBinding(kind, job.TenantId, JobCursor.GuidBytes(job.JobId)));
    }

    /// <summary>A stored job payload's JSON: itself when plain, opened when sealed.</summary>
    public string OpenJobPayload(SqliteConnection connection, string tenantId, byte[] jobId, string kind, object stored)
    {
        if (stored is not byte[] sealedPayload)
        {
            return (string)stored;
        }

        if (_cipher is null)
        {
            throw new InvalidOperationException(
                "The store holds encrypted job outputs, and no master key is configured (Store:Encryption:Enabled and MasterKey or MasterKeyFile).");
        }

        var key = DataKey(connection, null, tenantId, create: false);
        return Encoding.UTF8.GetString(PayloadCipher.Open(key, sealedPayload, JobBinding(kind, tenantId, jobId)));
    }

    public const string Outputs = "job-outputs";
    public const string Explanation = "job-explanation";

    private static byte[] JobBinding(string kind, string tenantId, byte[] jobId) => [.. Encoding.UTF8.GetBytes(kind + ":" + tenantId + ":"), .. jobId];

    /// <summary>Whether payloads written now are sealed.</summary>
    public bool Enabled => _cipher is not null;

    /// <summary>Seals a payload of <paramref name="tenantId"/> (inside a write transaction: the tenant's first key is made
    /// there), bound to <paramref name="place"/>, so that it opens nowhere else.</summary>
    public byte[] Seal(SqliteConnection connection, SqliteTransaction transaction, string tenantId, string place, ReadOnlySpan<byte> payload) =>
        PayloadCipher.Seal(DataKey(connection, transaction, tenantId, create: true), payload, Binding(tenantId, place));

    /// <summary>Opens what <see cref="Seal"/> sealed for the same tenant and place; a wrong key or place fails loudly.</summary>
    public byte[] Open(SqliteConnection connection, string tenantId, string place, ReadOnlySpan<byte> sealedPayload,
        SqliteTransaction? transaction = null)
    {
        if (_cipher is null)
        {
            throw new InvalidOperationException(
                "The store holds encrypted data, and no master key is configured (Store:Encryption:Enabled and MasterKey or MasterKeyFile).");
        }

        return PayloadCipher.Open(DataKey(connection, transaction, tenantId, create: false), sealedPayload, Binding(tenantId, place));
    }

    private static byte[] Binding(string tenantId, string place) => Encoding.UTF8.GetBytes(place + ":" + tenantId);


    /// <summary>The tenant's data key: from memory, else unwrapped from the store, else (when <paramref name="create"/>, inside a
    /// write transaction) made and stored. A key another process stored first wins, so every process uses the same one.</summary>
    private byte[] DataKey(SqliteConnection connection, SqliteTransaction? transaction, string tenantId, bool create)
    {
        if (_dataKeys.TryGetValue(tenantId, out var known))
        {
            return known;
        }

        if (ReadWrappedKey(connection, transaction, tenantId) is not { } wrapped)
        {
            if (!create)
            {
                throw new InvalidOperationException($"No data key is stored for tenant '{tenantId}', yet the store holds its encrypted data.");
            }

            var (_, newWrapped) = _cipher!.NewDataKey(tenantId);
            Execute(connection, transaction, "INSERT OR IGNORE INTO data_keys (tenant_id, wrapped, created_at) VALUES ($tenant_id, $wrapped, $now)",
                ("$tenant_id", tenantId), ("$wrapped", newWrapped), ("$now", time.GetUtcNow().UtcTicks));
            wrapped = ReadWrappedKey(connection, transaction, tenantId)!;
        }

        return _dataKeys.GetOrAdd(tenantId, _cipher!.UnwrapDataKey(tenantId, wrapped));
    }

    private static byte[]? ReadWrappedKey(SqliteConnection connection, SqliteTransaction? transaction, string tenantId)
    {
        using var command = Command(connection, transaction, "SELECT wrapped FROM data_keys WHERE tenant_id = $tenant_id", ("$tenant_id", tenantId));
        return command.ExecuteScalar() as byte[];
    }

    /// <summary>At start-up: a master key that does not open the keys already stored is refused at once, not at the first read.</summary>
    public void CheckMasterKey(SqliteConnection connection, SqliteTransaction transaction)
    {
        if (_cipher is null)
        {
            return;
        }

        using var command = Command(connection, transaction, "SELECT tenant_id, wrapped FROM data_keys LIMIT 1");
        using var reader = command.ExecuteReader();
        if (reader.Read())
        {
            var tenantId = reader.GetString(0);
            _dataKeys.TryAdd(tenantId, _cipher.UnwrapDataKey(tenantId, reader.GetFieldValue<byte[]>(1)));
        }
    }
}
