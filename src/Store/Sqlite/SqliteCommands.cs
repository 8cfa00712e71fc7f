using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

/// <summary>Small helpers every concern class of the embedded store uses on a connection it holds.</summary>
internal static class SqliteCommands
{
    public static T ExecuteScalar<T>(
        SqliteConnection connection, SqliteTransaction transaction, string sql, params ReadOnlySpan<(string Name, object Value)> parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), CultureInfo.InvariantCulture);
    }


    /// <summary>Reads the row ids of a left join from an owner row to its blob rows: null when the owner is missing, else
    /// its blob rows in the query's order (none for an owner without any).</summary>
    public static async Task<List<long>?> ReadBlobRowIdsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        List<long>? rowIds = null;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rowIds ??= [];
            if (!reader.IsDBNull(0))
            {
                rowIds.Add(reader.GetInt64(0));
            }
        }

        return rowIds;
    }

    public static Task CopyChunksAsync(SqliteConnection connection, IEnumerable<long> chunkRowIds, Stream destination,
        CancellationToken cancellationToken) =>
        CopyBlobsAsync(connection, "model_file_chunks", "data", chunkRowIds, destination, cancellationToken);

    /// <summary>Streams the blobs of <paramref name="column"/> in the given rows, in order, to <paramref name="destination"/>
    /// through one pooled buffer.</summary>
    public static async Task CopyBlobsAsync(SqliteConnection connection, string table, string column, IEnumerable<long> rowIds,
        Stream destination, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(SqliteDatabase.ChunkSize);
        try
        {
            foreach (var rowId in rowIds)
            {
                using var blob = new SqliteBlob(connection, table, column, rowId, readOnly: true);
                int read;
                while ((read = blob.Read(buffer, 0, SqliteDatabase.ChunkSize)) > 0)
                {
                    await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Throws <see cref="StoredObjectExpiredException"/> when <paramref name="sql"/> (one tombstone column) finds a
    /// tombstone; an unknown row passes, for the caller's own not-found answer.</summary>
    public static void ThrowIfExpired(SqliteConnection connection, string sql, string message,
        params ReadOnlySpan<(string Name, object Value)> parameters)
    {
        using var command = Command(connection, null, sql, parameters);
        if (command.ExecuteScalar() is long ticks)
        {
            throw new StoredObjectExpiredException(message, JobCursor.FromUtcTicks(ticks));
        }
    }

    /// <summary>The row ids a query's first column yields and the sum of its second.</summary>
    public static (List<long> RowIds, long Sum) SelectRows(SqliteConnection connection, SqliteTransaction transaction, string sql,
        params ReadOnlySpan<(string Name, object Value)> parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        var rowIds = new List<long>();
        long sum = 0;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rowIds.Add(reader.GetInt64(0));
            sum += reader.GetInt64(1);
        }

        return (rowIds, sum);
    }

    public static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql,
        params ReadOnlySpan<(string Name, object Value)> parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    /// <summary>A command in <paramref name="transaction"/> (none: autocommit) with its parameters bound.</summary>
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql,
        params ReadOnlySpan<(string Name, object Value)> parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // Constant SQL of this store; values are parameters.
        command.CommandText = sql;
#pragma warning restore CA2100
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }

    /// <summary>Enum values as an SQL list of their names (<c>'A', 'B'</c>), for the status lists the rules own; names are
    /// identifiers, never input.</summary>
    public static string SqlList<T>(IEnumerable<T> values) where T : struct, Enum =>
        string.Join(", ", values.Select(v => $"'{v}'"));

    /// <summary>The bytes as an array, without a copy when they already are a whole one.</summary>
    public static byte[] AsArray(ReadOnlyMemory<byte> bytes) =>
        MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : bytes.ToArray();
}
