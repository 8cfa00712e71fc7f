using System.Globalization;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;
using static AIaaS.Queue.Store.SqliteCommands;

namespace AIaaS.Queue.Store;

// Retention: every sweep step is one BEGIN IMMEDIATE transaction over at most `limit` rows found through a partial index
// that holds only what can still be swept (migration 9), so a step holds the write lock for milliseconds and job writes
// queue behind it no longer than behind a batch of results. Freed pages are given back with PRAGMA incremental_vacuum,
// also in small steps, on files created with auto_vacuum = INCREMENTAL.
public sealed class SqliteRetentionStore(SqliteDatabase database) : IRetentionStore
{
    private static readonly string FinalJobStatuses = SqlList(JobStoreRules.FinalStatuses);

    private static readonly string FinalBulkStatuses = SqlList(BulkStoreRules.FinalStatuses);

    // Pages given back per incremental_vacuum step: about 1 MiB at the default page size, a short write each.
    private const int VacuumStepPages = 256;

    private const string SweepReportName = "retention";

    public async Task<bool> TryAcquireLeaseAsync(string name, string owner, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        var now = database.Time.GetUtcNow();
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            // The conflict branch takes the lease only from its holder or after its time ran out; RETURNING yields a row
            // only when this owner holds it afterwards.
            using var command = Command(connection, transaction, """
                INSERT INTO leases (name, owner, until) VALUES ($name, $owner, $until)
                ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
                WHERE leases.owner = excluded.owner OR leases.until <= $now
                RETURNING owner
                """, ("$name", name), ("$owner", owner), ("$until", (now + duration).UtcTicks), ("$now", now.UtcTicks));
            return command.ExecuteScalar() is not null;
        }, cancellationToken);
    }

    public async Task ReleaseLeaseAsync(string name, string owner, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) =>
            Execute(connection, transaction, "DELETE FROM leases WHERE name = $name AND owner = $owner", ("$name", name), ("$owner", owner)),
            cancellationToken);
    }

    public async Task<SweepBatch> ExpireJobPayloadsAsync(string tenantId, JobKind kind, DateTimeOffset completedBefore, DateTimeOffset expiredAt,
        int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            var (rowIds, bytes) = SelectRows(connection, transaction, $"""
                SELECT rowid, COALESCE(length(outputs), 0) FROM jobs INDEXED BY ix_jobs_payload_retention
                WHERE tenant_id = $tenant_id AND kind = $kind AND completed_at < $before
                    AND completed_at IS NOT NULL AND payload_expired_at IS NULL AND status IN ({FinalJobStatuses})
                LIMIT $limit
                """, ("$tenant_id", tenantId), ("$kind", kind.ToString()), ("$before", completedBefore.UtcTicks), ("$limit", limit));
            Execute(connection, transaction,
                "UPDATE jobs SET outputs = NULL, payload_expired_at = $at WHERE rowid IN (SELECT value FROM json_each($rowids))",
                ("$at", expiredAt.UtcTicks), ("$rowids", JsonSerializer.Serialize(rowIds)));
            return new SweepBatch(rowIds.Count, bytes);
        }, cancellationToken);
    }

    public async Task<SweepBatch> DeleteJobRecordsAsync(string tenantId, JobKind kind, DateTimeOffset completedBefore, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var delete = Command(connection, transaction, $"""
                DELETE FROM jobs WHERE rowid IN (
                    SELECT rowid FROM jobs INDEXED BY ix_jobs_record_retention
                    WHERE tenant_id = $tenant_id AND kind = $kind AND completed_at < $before AND completed_at IS NOT NULL
                        AND status IN ({FinalJobStatuses})
                    LIMIT $limit)
                RETURNING id, COALESCE(length(outputs), 0)
                """, ("$tenant_id", tenantId), ("$kind", kind.ToString()), ("$before", completedBefore.UtcTicks), ("$limit", limit));
            var ids = new List<byte[]>();
            long bytes = 0;
            using (var reader = delete.ExecuteReader())
            {
                while (reader.Read())
                {
                    ids.Add(reader.GetFieldValue<byte[]>(0));
                    bytes += reader.GetInt64(1);
                }
            }

            bytes += DeleteJobDependents(connection, transaction, tenantId, ids);
            return new SweepBatch(ids.Count, bytes);
        }, cancellationToken);
    }

    /// <summary>Deletes what hangs off deleted jobs, each by its primary key or job index; returns the payload bytes removed.</summary>
    private static long DeleteJobDependents(SqliteConnection connection, SqliteTransaction transaction, string tenantId, List<byte[]> jobIds)
    {
        if (jobIds.Count == 0)
        {
            return 0;
        }

        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT COALESCE((SELECT sum(length(payload)) FROM webhook_deliveries WHERE tenant_id = $tenant_id AND job_id = $id), 0)
                 + COALESCE((SELECT sum(length(body)) FROM job_events WHERE tenant_id = $tenant_id AND job_id = $id), 0)
                 + COALESCE((SELECT length(request) FROM train_jobs WHERE tenant_id = $tenant_id AND id = $id), 0);
            DELETE FROM webhook_deliveries WHERE tenant_id = $tenant_id AND job_id = $id;
            DELETE FROM job_events WHERE tenant_id = $tenant_id AND job_id = $id;
            DELETE FROM train_jobs WHERE tenant_id = $tenant_id AND id = $id;
            """;
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        var id = command.Parameters.Add("$id", SqliteType.Blob);
        long bytes = 0;
        foreach (var jobId in jobIds)
        {
            id.Value = jobId;
            bytes += Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        return bytes;
    }

    public async Task<SweepBatch> ExpireDatasetsAsync(string tenantId, DateTimeOffset createdBefore, DateTimeOffset expiredAt, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            // A file that a bulk job still reads is left for a later sweep: running work is never cut short.
            var files = new List<(long RowId, long FileId, long Size)>();
            using (var select = Command(connection, transaction, $"""
                SELECT d.rowid, d.file_id, d.size_bytes FROM datasets d INDEXED BY ix_datasets_retention
                WHERE d.tenant_id = $tenant_id AND d.created_at < $before AND d.expired_at IS NULL
                    AND NOT EXISTS (SELECT 1 FROM bulk_jobs b WHERE b.input_file_id = d.id AND b.status NOT IN ({FinalBulkStatuses}))
                LIMIT $limit
                """, ("$tenant_id", tenantId), ("$before", createdBefore.UtcTicks), ("$limit", limit)))
            {
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    files.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
                }
            }

            using var expire = Command(connection, transaction, """
                DELETE FROM model_file_chunks WHERE file_id = $file_id;
                DELETE FROM model_files WHERE id = $file_id;
                UPDATE datasets SET expired_at = $at WHERE rowid = $rowid;
                """, ("$at", expiredAt.UtcTicks));
            var fileId = expire.Parameters.Add("$file_id", SqliteType.Integer);
            var rowId = expire.Parameters.Add("$rowid", SqliteType.Integer);
            foreach (var file in files)
            {
                (fileId.Value, rowId.Value) = (file.FileId, file.RowId);
                expire.ExecuteNonQuery();
            }

            return new SweepBatch(files.Count, files.Sum(f => f.Size));
        }, cancellationToken);
    }

    public async Task<SweepBatch> ExpireBulkOutputsAsync(string tenantId, DateTimeOffset completedBefore, DateTimeOffset expiredAt, int limit,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            var jobIds = new List<byte[]>();
            using (var select = Command(connection, transaction, $"""
                SELECT id FROM bulk_jobs INDEXED BY ix_bulk_jobs_retention
                WHERE tenant_id = $tenant_id AND completed_at < $before AND completed_at IS NOT NULL
                    AND outputs_expired_at IS NULL AND status IN ({FinalBulkStatuses})
                LIMIT $limit
                """, ("$tenant_id", tenantId), ("$before", completedBefore.UtcTicks), ("$limit", limit)))
            {
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    jobIds.Add(reader.GetFieldValue<byte[]>(0));
                }
            }

            // Chunks are the unit of the limit: a job of many chunks takes several batches and is marked expired by the
            // batch that removes its last chunk.
            var batch = SweepBatch.None;
            foreach (var id in jobIds)
            {
                batch += DeleteChunks(connection, transaction, "bulk_chunk_results", "COALESCE(length(output), 0) + COALESCE(length(errors), 0)", tenantId, id, limit - batch.Count);
                batch += DeleteChunks(connection, transaction, "bulk_chunk_inputs", "COALESCE(length(payload), 0)", tenantId, id, limit - batch.Count);
                if (batch.Count >= limit)
                {
                    break;
                }

                Execute(connection, transaction, "UPDATE bulk_jobs SET outputs_expired_at = $at WHERE tenant_id = $tenant_id AND id = $id",
                    ("$at", expiredAt.UtcTicks), ("$tenant_id", tenantId), ("$id", id));
            }

            return batch;
        }, cancellationToken);
    }

    private static SweepBatch DeleteChunks(SqliteConnection connection, SqliteTransaction transaction, string table, string sizeExpression,
        string tenantId, byte[] bulkId, int limit)
    {
        if (limit <= 0)
        {
            return SweepBatch.None;
        }

        // Table and size expression are constants of this file.
        using var command = Command(connection, transaction, $"""
            DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE tenant_id = $tenant_id AND bulk_id = $id LIMIT $limit)
            RETURNING {sizeExpression}
            """, ("$tenant_id", tenantId), ("$id", bulkId), ("$limit", limit));
        var batch = SweepBatch.None;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            batch += new SweepBatch(1, reader.GetInt64(0));
        }

        return batch;
    }

    public async Task<long> ReclaimSpaceAsync(long maxBytes, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var (pageSize, _, freePages, incremental) = ReadPageCounts(connection);
        if (!incremental)
        {
            return 0;
        }

        long reclaimed = 0;
        while (freePages > 0 && reclaimed < maxBytes)
        {
            var pages = (int)Math.Min(VacuumStepPages, freePages);
            await database.WriteAsync(connection, (connection, transaction) =>
                Execute(connection, transaction, string.Create(CultureInfo.InvariantCulture, $"PRAGMA incremental_vacuum({pages})")),
                cancellationToken);
            var after = ReadPageCounts(connection).FreePages;
            reclaimed += (freePages - after) * pageSize;
            if (after >= freePages)
            {
                break;
            }

            freePages = after;
        }

        // The file shrinks when the WAL is checkpointed; PASSIVE never waits for readers or writers.
        Execute(connection, null, "PRAGMA wal_checkpoint(PASSIVE)");
        return reclaimed;
    }

    public async Task<long> GetStoredBytesAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        await using var connection = await database.OpenAsync(cancellationToken);
        // Files through their partial index; chunks through the tenant's primary-key range (it leads with tenant_id). length()
        // of a BLOB reads its record header, not its pages.
        await using var command = Command(connection, null, """
            SELECT COALESCE((SELECT sum(size_bytes) FROM datasets INDEXED BY ix_datasets_retention WHERE tenant_id = $tenant_id AND expired_at IS NULL), 0)
                 + COALESCE((SELECT sum(COALESCE(length(output), 0) + COALESCE(length(errors), 0)) FROM bulk_chunk_results WHERE tenant_id = $tenant_id), 0)
                 + COALESCE((SELECT sum(COALESCE(length(payload), 0)) FROM bulk_chunk_inputs WHERE tenant_id = $tenant_id), 0)
            """, ("$tenant_id", tenantId));
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    public async Task<StoreSize> GetSizeAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var (pageSize, pages, freePages, incremental) = ReadPageCounts(connection);
        var wal = new FileInfo(database.DatabasePath + "-wal");
        return new StoreSize
        {
            Kind = "embedded",
            TotalBytes = pages * pageSize,
            FreeBytes = freePages * pageSize,
            Reclaims = incremental,
            Note = (incremental
                    ? "auto_vacuum = INCREMENTAL: the sweeper gives freed pages back."
                    : "auto_vacuum = NONE (a file made before retention existed): freed pages are reused but the file does not shrink until one VACUUM.")
                + string.Create(CultureInfo.InvariantCulture, $" Write-ahead log: {(wal.Exists ? wal.Length : 0)} bytes."),
        };
    }

    private static (long PageSize, long Pages, long FreePages, bool Incremental) ReadPageCounts(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT page_size, page_count, freelist_count, auto_vacuum FROM pragma_page_size, pragma_page_count, pragma_freelist_count, pragma_auto_vacuum";
        using var reader = command.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3) == 2);
    }

    public async Task SaveSweepReportAsync(SweepReport report, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) =>
            Execute(connection, transaction, "INSERT OR REPLACE INTO sweep_reports (name, report) VALUES ($name, $report)",
                ("$name", SweepReportName), ("$report", JsonSerializer.Serialize(report, StoreJson.Options))),
            cancellationToken);
    }

    public async Task<SweepReport?> GetSweepReportAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT report FROM sweep_reports WHERE name = $name", ("$name", SweepReportName));
        return await command.ExecuteScalarAsync(cancellationToken) is string json
            ? JsonSerializer.Deserialize<SweepReport>(json, StoreJson.Options)
            : null;
    }
}
