using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

/// <summary>
/// The embedded store's file: one SQLite database in WAL mode, created or upgraded to its schema (<see cref="SqliteSchema"/>)
/// on first use. It owns what every concern of the store shares: the path and connection settings, the one write gate of
/// this process, the clock, and the tenants' data keys (<see cref="SqliteKeyRing"/>). The concern classes
/// (<see cref="SqliteJobStore"/>, <see cref="SqliteModelStore"/>, ...) take it and do their own SQL; one instance serves a file.
/// </summary>
public sealed class SqliteDatabase : IDisposable
{
    internal const int ChunkSize = 1024 * 1024;
    private const int BusyTimeoutSeconds = 30;

    // Uploads that died with their process leave chunks no version points to; they are swept once they are this old,
    // which no live upload in another process can be.
    private static readonly TimeSpan OrphanedFileAge = TimeSpan.FromDays(1);

    private readonly string _path;
    private readonly string _connectionString;
    private readonly string _connectionPragmas; // per connection: SQLite keeps neither setting in the file
    private readonly TimeProvider _time;

    // SQLite has one writer at a time. Queueing writers of this process on an async semaphore is cheaper and fairer
    // than letting them sleep in SQLite's busy handler; the busy timeout still covers other processes on the file.
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private volatile bool _schemaReady;
    private int _disposed;

    public SqliteDatabase(string databasePath, TimeProvider? timeProvider = null, EmbeddedDurability durability = EmbeddedDurability.ProcessCrash,
        IMasterKeys? masterKeys = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        _path = Path.GetFullPath(databasePath);
        _time = timeProvider ?? TimeProvider.System;
        Keys = new SqliteKeyRing(masterKeys, _time);
        _connectionPragmas = durability == EmbeddedDurability.PowerLoss
            ? "PRAGMA busy_timeout = 30000; PRAGMA synchronous = FULL"
            : "PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL";
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = BusyTimeoutSeconds,
        }.ToString();
    }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _path;

    internal TimeProvider Time => _time;

    /// <summary>Encryption at rest: the tenants' data keys (encryption is off without a master key).</summary>
    internal SqliteKeyRing Keys { get; }

    // Upload chunks that no model version or data file points to (see OrphanedFileAge), swept at each start.
    private const string SweepOrphanedFilesSql = """
        DELETE FROM model_file_chunks WHERE file_id IN (
            SELECT f.id FROM model_files f
            WHERE f.created_at < $orphaned_before AND NOT EXISTS (SELECT 1 FROM model_versions v WHERE v.file_id = f.id)
                AND NOT EXISTS (SELECT 1 FROM datasets d WHERE d.file_id = f.id));
        DELETE FROM model_files
            WHERE created_at < $orphaned_before AND NOT EXISTS (SELECT 1 FROM model_versions v WHERE v.file_id = model_files.id)
                AND NOT EXISTS (SELECT 1 FROM datasets d WHERE d.file_id = model_files.id);
        """;

    /// <summary>An open connection to the file, its schema brought up to date first (once per process).</summary>
    internal async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_schemaReady)
        {
            await EnsureSchemaAsync(cancellationToken);
        }

        return await OpenConnectionAsync(cancellationToken);
    }

    private async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);

            // Pooled connections keep these, but a fresh one needs them, and they cost no I/O.
            await using var pragma = connection.CreateCommand();
            pragma.CommandText = _connectionPragmas;
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        await _schemaGate.WaitAsync(cancellationToken);
        try
        {
            if (_schemaReady)
            {
                return;
            }

            var directory = Path.GetDirectoryName(_path);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            await using var connection = await OpenConnectionAsync(cancellationToken);
            await using (var wal = connection.CreateCommand())
            {
                // Both are stored in the file. auto_vacuum takes effect only on a file that has no tables yet (a new one):
                // it lets the retention sweeper give freed pages back in small steps (PRAGMA incremental_vacuum). A file
                // made before keeps auto_vacuum = NONE until one VACUUM (README, "Data: retention"); its freed pages are
                // reused but the file does not shrink. WAL: every later connection, in any process, is in WAL mode too.
                wal.CommandText = "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL";
                await wal.ExecuteNonQueryAsync(cancellationToken);
            }

            await WriteAsync(connection, (connection, transaction) =>
            {
                SqliteSchema.Upgrade(connection, transaction);
                Keys.CheckMasterKey(connection, transaction);
                using var sweep = connection.CreateCommand();
                sweep.Transaction = transaction;
                sweep.CommandText = SweepOrphanedFilesSql;
                sweep.Parameters.AddWithValue("$orphaned_before", (_time.GetUtcNow() - OrphanedFileAge).UtcTicks);
                return sweep.ExecuteNonQuery();
            }, cancellationToken);

            _schemaReady = true;
        }
        finally
        {
            _schemaGate.Release();
        }
    }

    /// <summary>Runs <paramref name="work"/> in one BEGIN IMMEDIATE transaction, one writer of this process at a time.</summary>
    internal async Task<T> WriteAsync<T>(
        SqliteConnection connection, Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var result = work(connection, transaction);
            transaction.Commit();
            return result;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    internal Task WriteAsync(SqliteConnection connection, Action<SqliteConnection, SqliteTransaction> work, CancellationToken cancellationToken) =>
        WriteAsync(connection, (c, t) =>
        {
            work(c, t);
            return true;
        }, cancellationToken);

    /// <summary>Closes the pooled connections to the file, so that it can be moved or deleted.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
        _writeGate.Dispose();
        _schemaGate.Dispose();
    }
}
