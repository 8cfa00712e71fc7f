using AIaaS.Queue.Contracts;
using static AIaaS.Queue.Store.SqliteCommands;

namespace AIaaS.Queue.Store;

/// <summary>The embedded store's uploaded data files: a record in "datasets" per file, its content in the shared file chunks
/// (<see cref="SqliteFiles"/>). Every read names the tenant, so another tenant's file is as good as unknown.</summary>
public sealed class SqliteDatasetStore(SqliteDatabase database) : IDatasetStore
{
    public async Task<DatasetView> AddDatasetAsync(string tenantId, string name, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantId);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(content);
        await using var connection = await database.OpenAsync(cancellationToken);
        var fileId = await SqliteFiles.CreateAsync(database, connection, cancellationToken);
        try
        {
            var (size, sha256) = await SqliteFiles.WriteChunksAsync(database, connection, fileId, content, cancellationToken, sealFor: tenantId);
            var dataset = new DatasetView
            {
                Id = Guid.CreateVersion7().ToString("N"),
                Name = name,
                SizeBytes = size,
                Sha256 = sha256,
                CreatedAt = JobCursor.FromUtcTicks(database.Time.GetUtcNow().UtcTicks),
            };
            await database.WriteAsync(connection, (connection, transaction) =>
            {
                using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = """
                    INSERT INTO datasets (id, name, created_at, size_bytes, sha256, file_id, tenant_id)
                    VALUES ($id, $name, $created_at, $size_bytes, $sha256, $file_id, $tenant_id)
                    """;
                insert.Parameters.AddWithValue("$tenant_id", tenantId);
                insert.Parameters.AddWithValue("$id", dataset.Id);
                insert.Parameters.AddWithValue("$name", dataset.Name);
                insert.Parameters.AddWithValue("$created_at", dataset.CreatedAt.UtcTicks);
                insert.Parameters.AddWithValue("$size_bytes", size);
                insert.Parameters.AddWithValue("$sha256", sha256);
                insert.Parameters.AddWithValue("$file_id", fileId);
                insert.ExecuteNonQuery();
            }, cancellationToken);
            return dataset;
        }
        catch
        {
            await SqliteFiles.DeleteAsync(database, connection, fileId);
            throw;
        }
    }

    public async Task<DatasetView?> GetDatasetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, name, created_at, size_bytes, sha256, expired_at FROM datasets WHERE id = $id AND tenant_id = $tenant_id";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new DatasetView
            {
                Id = reader.GetString(0),
                Name = reader.GetString(1),
                CreatedAt = JobCursor.FromUtcTicks(reader.GetInt64(2)),
                SizeBytes = reader.GetInt64(3),
                Sha256 = reader.GetString(4),
                ExpiredAt = reader.IsDBNull(5) ? null : JobCursor.FromUtcTicks(reader.GetInt64(5)),
            }
            : null;
    }

    public async Task CopyDatasetToAsync(string tenantId, string id, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(destination);
        await using var connection = await database.OpenAsync(cancellationToken);
        ThrowIfExpired(connection, "SELECT expired_at FROM datasets WHERE id = $id AND tenant_id = $tenant_id",
            $"The content of dataset '{id}' was removed under its tenant's retention.", ("$id", id), ("$tenant_id", tenantId));
        long? fileId = null;
        var chunks = new List<(long RowId, bool Sealed, int Seq)>();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                SELECT d.file_id, c.rowid, c.sealed, c.seq FROM datasets d LEFT JOIN model_file_chunks c ON c.file_id = d.file_id
                WHERE d.id = $id AND d.tenant_id = $tenant_id ORDER BY c.seq
                """;
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$tenant_id", tenantId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                fileId = reader.GetInt64(0);
                if (!reader.IsDBNull(1))
                {
                    chunks.Add((reader.GetInt64(1), reader.GetBoolean(2), reader.GetInt32(3)));
                }
            }
        }

        var file = fileId ?? throw new KeyNotFoundException($"No dataset with id '{id}' is stored.");
        await SqliteFiles.CopyBlobsAsync(database, connection, "model_file_chunks", "data", tenantId,
            chunks.Select(c => (c.RowId, c.Sealed ? SqliteFiles.ChunkPlace(file, c.Seq) : null)), destination, cancellationToken);
    }
}
