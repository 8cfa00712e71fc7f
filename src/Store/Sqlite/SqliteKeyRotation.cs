using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

/// <summary>
/// The second half of a master key rotation on the embedded store: every tenant's data key still wrapped under a retired
/// master key is wrapped again under the current one. Only the wrapping changes, never a data key, so payloads stay
/// sealed as they are, and processes serving meanwhile (which hold the unwrapped keys in memory) carry on. Once it has
/// run, the retired keys can leave the configuration.
/// </summary>
public static class SqliteKeyRotation
{
    /// <summary>Re-wraps the store's data keys under <paramref name="masterKeys"/>' current key, in one write transaction;
    /// returns how many moved and how many are stored.</summary>
    public static async Task<(int Rewrapped, int Stored)> RewrapDataKeysAsync(string storePath, IMasterKeys masterKeys,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(masterKeys);
        var path = Path.GetFullPath(storePath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No store file at {path}.", path);
        }

        var cipher = new PayloadCipher(masterKeys);
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 60,
        }.ToString());
        await connection.OpenAsync(cancellationToken);
        if (SqliteSchema.ReadVersion(connection, null) > SqliteSchema.LatestVersion)
        {
            throw new InvalidDataException($"{path} was written by a newer build; re-wrap its keys with that build.");
        }

        // IMMEDIATE: the write lock from the start, so no process stores a tenant's first key between the read and the update.
        await using var transaction = connection.BeginTransaction(deferred: false);
        var stored = new List<(string Tenant, byte[] Wrapped)>();
        await using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT tenant_id, wrapped FROM data_keys";
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stored.Add((reader.GetString(0), reader.GetFieldValue<byte[]>(1)));
            }
        }

        var rewrapped = 0;
        foreach (var (tenant, wrapped) in stored.Where(k => cipher.IsWrappedUnderOlderKey(k.Wrapped)))
        {
            await using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE data_keys SET wrapped = $wrapped WHERE tenant_id = $tenant_id";
            update.Parameters.AddWithValue("$wrapped", cipher.Rewrap(tenant, wrapped));
            update.Parameters.AddWithValue("$tenant_id", tenant);
            await update.ExecuteNonQueryAsync(cancellationToken);
            rewrapped++;
        }

        await transaction.CommitAsync(cancellationToken);
        return (rewrapped, stored.Count);
    }
}
