using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using static AIaaS.Queue.Store.SqliteCommands;

namespace AIaaS.Queue.Store;

/// <summary>Stored files ("model_files" and their 1 MiB chunks), written by <see cref="SqliteModelStore"/> and
/// <see cref="SqliteDatasetStore"/>: a file gets its id first and its chunks one short write each, so an upload never
/// holds the write gate while it reads its source.</summary>
internal static class SqliteFiles
{
    public static Task<long> CreateAsync(SqliteDatabase database, SqliteConnection connection, CancellationToken cancellationToken) =>
        database.WriteAsync(connection, (connection, transaction) =>
            ExecuteScalar<long>(connection, transaction, "INSERT INTO model_files (created_at) VALUES ($now) RETURNING id",
                ("$now", database.Time.GetUtcNow().UtcTicks)), cancellationToken);

    /// <summary>Writes <paramref name="content"/> as the file's chunks and returns its size and SHA-256 (of the plain
    /// content). With <paramref name="sealFor"/> (a tenant) and encryption on, each chunk is sealed under that tenant's key
    /// and bound to its file and place in it (<see cref="ChunkPlace"/>).</summary>
    public static async Task<(long Size, string Sha256)> WriteChunksAsync(
        SqliteDatabase database, SqliteConnection connection, long fileId, Stream content, CancellationToken cancellationToken,
        string? sealFor = null)
    {
        var sealing = sealFor is not null && database.Keys.Enabled;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(SqliteDatabase.ChunkSize);
        try
        {
            long size = 0;
            for (var seq = 0; ; seq++)
            {
                // Read outside the write gate: a slow upload must not hold up job writes.
                var read = await content.ReadAtLeastAsync(buffer.AsMemory(0, SqliteDatabase.ChunkSize), SqliteDatabase.ChunkSize, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                hash.AppendData(buffer, 0, read);
                size += read;
                var chunkSeq = seq;
                await database.WriteAsync(connection, (connection, transaction) =>
                {
                    if (sealing)
                    {
                        var sealedChunk = database.Keys.Seal(connection, transaction, sealFor!, ChunkPlace(fileId, chunkSeq), buffer.AsSpan(0, read));
                        return ExecuteScalar<long>(connection, transaction,
                            "INSERT INTO model_file_chunks (file_id, seq, data, sealed) VALUES ($file_id, $seq, $data, 1) RETURNING rowid",
                            ("$file_id", fileId), ("$seq", chunkSeq), ("$data", sealedChunk));
                    }

                    var rowId = ExecuteScalar<long>(connection, transaction,
                        "INSERT INTO model_file_chunks (file_id, seq, data) VALUES ($file_id, $seq, zeroblob($length)) RETURNING rowid",
                        ("$file_id", fileId), ("$seq", chunkSeq), ("$length", read));
                    using var blob = new SqliteBlob(connection, "model_file_chunks", "data", rowId, readOnly: false);
                    blob.Write(buffer, 0, read);
                    return rowId;
                }, cancellationToken);

                if (read < SqliteDatabase.ChunkSize)
                {
                    break;
                }
            }

            return (size, Convert.ToHexStringLower(hash.GetCurrentHash()));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Where a file's chunk lies, as a sealed chunk is bound to it: copied to another file or place, it does not open.</summary>
    public static string ChunkPlace(long fileId, int seq) => string.Create(CultureInfo.InvariantCulture, $"file-chunk:{fileId}:{seq}");

    /// <summary>Streams the blobs of <paramref name="column"/> in the given rows, in order, to <paramref name="destination"/>:
    /// plain ones through one pooled buffer, sealed ones (a place to open them at) opened whole with
    /// <paramref name="tenantId"/>'s key; a sealed blob is a chunk (1 MiB at most), and its tag covers all of it.</summary>
    public static async Task CopyBlobsAsync(SqliteDatabase database, SqliteConnection connection, string table, string column,
        string tenantId, IEnumerable<(long RowId, string? SealedAt)> rows, Stream destination, CancellationToken cancellationToken)
    {
        foreach (var (rowId, sealedAt) in rows)
        {
            if (sealedAt is null)
            {
                await SqliteCommands.CopyBlobsAsync(connection, table, column, [rowId], destination, cancellationToken);
                continue;
            }

#pragma warning disable CA2100 // Table and column are constant names of the callers; the row id is a parameter.
            using var read = Command(connection, null, $"SELECT {column} FROM {table} WHERE rowid = $rowid", ("$rowid", rowId));
#pragma warning restore CA2100
            var sealedBlob = (byte[])read.ExecuteScalar()!;
            await destination.WriteAsync(database.Keys.Open(connection, tenantId, sealedAt, sealedBlob), cancellationToken);
        }
    }

    public static async Task DeleteAsync(SqliteDatabase database, SqliteConnection connection, long fileId)
    {
        try
        {
            await database.WriteAsync(connection, (connection, transaction) =>
            {
                using var delete = connection.CreateCommand();
                delete.Transaction = transaction;
                delete.CommandText = """
                    DELETE FROM model_file_chunks WHERE file_id = $file_id
                        AND NOT EXISTS (SELECT 1 FROM model_versions WHERE file_id = $file_id);
                    DELETE FROM model_files WHERE id = $file_id
                        AND NOT EXISTS (SELECT 1 FROM model_versions WHERE file_id = $file_id);
                    """;
                delete.Parameters.AddWithValue("$file_id", fileId);
                return delete.ExecuteNonQuery();
            }, CancellationToken.None);
        }
        catch (SqliteException)
        {
            // Best effort: the start-up sweep removes what is left.
        }
    }
}
