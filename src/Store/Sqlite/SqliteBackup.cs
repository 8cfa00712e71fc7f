using System.Globalization;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

/// <summary>
/// Online backup and offline restore of the embedded store. A backup is <c>VACUUM INTO</c>: one read transaction, so
/// writers in every process carry on (WAL mode) and the copy holds exactly the commits made before it began, compacted. A
/// restore puts a checked copy in place of a stopped store's file, keeping the old files beside it.
/// </summary>
public static class SqliteBackup
{
    /// <summary>Writes a consistent copy of the store at <paramref name="storePath"/> to <paramref name="destination"/> (which
    /// must not exist) while the store serves, checks the copy, and returns its size in bytes.</summary>
    public static async Task<long> BackupAsync(string storePath, string destination, CancellationToken cancellationToken = default)
    {
        var source = Path.GetFullPath(storePath);
        var target = Path.GetFullPath(destination);
        if (!File.Exists(source))
        {
            throw new FileNotFoundException($"No store file at {source}.", source);
        }

        if (File.Exists(target))
        {
            throw new IOException($"{target} exists; a backup never overwrites a file.");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        await using (var connection = await OpenAsync(source, SqliteOpenMode.ReadOnly, cancellationToken))
        await using (var vacuum = connection.CreateCommand())
        {
            vacuum.CommandText = "VACUUM INTO $target";
            vacuum.Parameters.AddWithValue("$target", target);
            await vacuum.ExecuteNonQueryAsync(cancellationToken);
        }

        await CheckAsync(target, cancellationToken);
        return new FileInfo(target).Length;
    }

    /// <summary>
    /// Puts the backup <paramref name="backup"/> in place as the store file <paramref name="storePath"/> of a stopped
    /// deployment, after checking it (integrity, and a schema this build can open). An existing store file is refused unless
    /// <paramref name="replace"/>; then it and its <c>-wal</c> and <c>-shm</c> are kept beside it with the suffix returned.
    /// </summary>
    public static async Task<string?> RestoreAsync(string backup, string storePath, bool replace, CancellationToken cancellationToken = default)
    {
        var source = Path.GetFullPath(backup);
        var target = Path.GetFullPath(storePath);
        await CheckAsync(source, cancellationToken);
        string? keptAs = null;
        if (File.Exists(target))
        {
            if (!replace)
            {
                throw new IOException($"A store file exists at {target}; stop every process using it and pass --replace to keep it aside and restore.");
            }

            keptAs = string.Create(CultureInfo.InvariantCulture, $".before-restore-{DateTime.UtcNow:yyyyMMddHHmmss}");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);

        // Copied next to the target first, then renamed over it: a restore cut short leaves either store whole.
        var incoming = target + ".restoring";
        File.Copy(source, incoming, overwrite: true);
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            if (keptAs is not null && File.Exists(target + suffix))
            {
                File.Move(target + suffix, target + suffix + keptAs);
            }
        }

        File.Move(incoming, target);
        return keptAs;
    }

    /// <summary>Throws unless the file passes SQLite's integrity check and its schema is one this build opens.</summary>
    private static async Task CheckAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No backup at {path}.", path);
        }

        await using var connection = await OpenAsync(path, SqliteOpenMode.ReadOnly, cancellationToken);
        await using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        var result = (string?)await check.ExecuteScalarAsync(cancellationToken);
        if (result != "ok")
        {
            throw new InvalidDataException($"{path} fails SQLite's integrity check: {result}");
        }

        var version = SqliteSchema.ReadVersion(connection, null);
        if (version is 0 || version > SqliteSchema.LatestVersion)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{path} has schema version {version}; this build opens versions 1 to {SqliteSchema.LatestVersion}."));
        }
    }

    private static async Task<SqliteConnection> OpenAsync(string path, SqliteOpenMode mode, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);
        return connection;
    }
}
