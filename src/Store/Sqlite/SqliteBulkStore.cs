using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;
using static AIaaS.Queue.Store.SqliteCommands;

namespace AIaaS.Queue.Store;

// Bulk jobs: the job row with its live counters, one row per stored chunk input and one per chunk result. A chunk's
// row and the counter update it causes are written in one transaction, and the row's primary key makes the first write
// win, so a repeated save never counts twice. Results are never changed once written, which lets the copy read them
// one blob at a time without holding a snapshot while a slow reader drains the destination.
public sealed class SqliteBulkStore(SqliteDatabase database) : IBulkStore
{
    private const string BulkColumns = """
        id, model, model_version, status, input_file_id, format, chunk_size, callback_url, expires_at, submitted_at,
        started_at, completed_at, error, total, succeeded, failed, chunks_done, chunks_total, chunks_skipped, tenant_id
        """;

    // What a read returns: the written columns and the retention sweeper's tombstone.
    private const string BulkReadColumns = BulkColumns + ", outputs_expired_at";

    private const string BulkProgressColumns = "chunks_done, chunks_total, chunks_skipped";

    public async Task<bool> CreateBulkJobAsync(BulkJobRecord job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"""
                INSERT OR IGNORE INTO bulk_jobs ({BulkColumns})
                VALUES ($id, $model, $model_version, $status, $input_file_id, $format, $chunk_size, $callback_url, $expires_at,
                        $submitted_at, $started_at, $completed_at, $error, $total, $succeeded, $failed, $chunks_done, $chunks_total, $chunks_skipped, $tenant_id)
                """;
            var p = command.Parameters;
            p.AddWithValue("$id", JobCursor.GuidBytes(job.BulkJobId));
            p.AddWithValue("$model", job.Model);
            p.AddWithValue("$model_version", (object?)job.ModelVersion ?? DBNull.Value);
            p.AddWithValue("$status", job.Status.ToString());
            p.AddWithValue("$input_file_id", job.InputFileId);
            p.AddWithValue("$format", (object?)job.Format?.ToString() ?? DBNull.Value);
            p.AddWithValue("$chunk_size", (object?)job.ChunkSize ?? DBNull.Value);
            p.AddWithValue("$callback_url", (object?)job.CallbackUrl ?? DBNull.Value);
            p.AddWithValue("$expires_at", (object?)job.ExpiresAt?.UtcTicks ?? DBNull.Value);
            p.AddWithValue("$submitted_at", job.SubmittedAt.UtcTicks);
            p.AddWithValue("$started_at", (object?)job.StartedAt?.UtcTicks ?? DBNull.Value);
            p.AddWithValue("$completed_at", (object?)job.CompletedAt?.UtcTicks ?? DBNull.Value);
            p.AddWithValue("$error", (object?)job.Error ?? DBNull.Value);
            p.AddWithValue("$total", job.Total);
            p.AddWithValue("$succeeded", job.Succeeded);
            p.AddWithValue("$failed", job.Failed);
            p.AddWithValue("$chunks_done", job.ChunksDone);
            p.AddWithValue("$chunks_total", (object?)job.ChunksTotal ?? DBNull.Value);
            p.AddWithValue("$chunks_skipped", job.ChunksSkipped);
            p.AddWithValue("$tenant_id", job.TenantId);
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);
    }

    public async Task<BulkJobRecord?> GetBulkJobAsync(string tenantId, Guid bulkJobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {BulkReadColumns} FROM bulk_jobs WHERE tenant_id = $tenant_id AND id = $id";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        return ReadBulkJobs(command).SingleOrDefault();
    }

    public async Task<IReadOnlyList<BulkJobRecord>> ListBulkJobsAsync(string tenantId, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {BulkReadColumns} FROM bulk_jobs WHERE tenant_id = $tenant_id ORDER BY submitted_at DESC, id DESC LIMIT $limit";
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        command.Parameters.AddWithValue("$limit", JobCursor.ClampLimit(limit));
        return ReadBulkJobs(command);
    }

    public async Task<BulkJobRecord?> TransitionBulkJobAsync(string tenantId, Guid bulkJobId, IReadOnlyCollection<BulkJobStatus> from, BulkJobStatus to,
        int? modelVersion = null, string? error = null, BulkInputFormat? format = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        var move = BulkStoreRules.Transition(to, database.Time.GetUtcNow().UtcTicks, modelVersion, error, format);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = """
                UPDATE bulk_jobs SET
                    status        = $to,
                    started_at    = CASE WHEN $starts THEN COALESCE(started_at, $now) ELSE started_at END,
                    model_version = COALESCE($version, model_version),
                    completed_at  = CASE WHEN $ends THEN $now ELSE completed_at END,
                    error         = CASE WHEN $sets_error THEN $error ELSE error END,
                    format        = COALESCE($format, format)
                WHERE tenant_id = $tenant_id AND id = $id AND status IN (SELECT value FROM json_each($from))
                """;
            update.Parameters.AddWithValue("$to", move.To.ToString());
            update.Parameters.AddWithValue("$starts", move.StartsIfNotStarted);
            update.Parameters.AddWithValue("$ends", move.Ends);
            update.Parameters.AddWithValue("$sets_error", move.SetsError);
            update.Parameters.AddWithValue("$now", move.NowTicks);
            update.Parameters.AddWithValue("$version", (object?)move.ModelVersion ?? DBNull.Value);
            update.Parameters.AddWithValue("$error", (object?)move.Error ?? DBNull.Value);
            update.Parameters.AddWithValue("$format", (object?)move.Format?.ToString() ?? DBNull.Value);
            update.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
            update.Parameters.AddWithValue("$tenant_id", tenantId);
            update.Parameters.AddWithValue("$from", System.Text.Json.JsonSerializer.Serialize(from.Select(s => s.ToString())));
            update.ExecuteNonQuery();

            using var select = connection.CreateCommand();
            select.Transaction = transaction;
            select.CommandText = $"SELECT {BulkReadColumns} FROM bulk_jobs WHERE tenant_id = $tenant_id AND id = $id";
            select.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
            select.Parameters.AddWithValue("$tenant_id", tenantId);
            return ReadBulkJobs(select).SingleOrDefault();
        }, cancellationToken);
    }

    public async Task<bool> SaveBulkChunkInputAsync(string tenantId, Guid bulkJobId, int chunkIndex, int recordCount, ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken = default)
    {
        BulkStoreRules.CheckChunk(chunkIndex, recordCount);
        var bytes = AsArray(payload);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            var stored = SealChunk(connection, transaction, tenantId, InputPlace(bulkJobId, chunkIndex), bytes);
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT OR IGNORE INTO bulk_chunk_inputs (tenant_id, bulk_id, chunk_index, records, payload, sealed)
                VALUES ($tenant_id, $id, $chunk, $records, $payload, $sealed)
                """;
            insert.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
            insert.Parameters.AddWithValue("$tenant_id", tenantId);
            insert.Parameters.AddWithValue("$chunk", chunkIndex);
            insert.Parameters.AddWithValue("$records", recordCount);
            insert.Parameters.Add("$payload", SqliteType.Blob).Value = stored;
            insert.Parameters.AddWithValue("$sealed", database.Keys.Enabled);
            var isNew = insert.ExecuteNonQuery() == 1;

            // Run either way: it also tells an unknown job, whose rollback takes the orphaned input with it.
            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE bulk_jobs SET total = total + $records WHERE tenant_id = $tenant_id AND id = $id";
            update.Parameters.AddWithValue("$records", isNew ? recordCount : 0);
            update.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
            update.Parameters.AddWithValue("$tenant_id", tenantId);
            return update.ExecuteNonQuery() == 1 ? isNew : throw BulkStoreRules.UnknownJob(bulkJobId);
        }, cancellationToken);
    }

    public async Task<byte[]?> GetBulkChunkInputAsync(string tenantId, Guid bulkJobId, int chunkIndex, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT payload, sealed FROM bulk_chunk_inputs WHERE tenant_id = $tenant_id AND bulk_id = $id AND chunk_index = $chunk
            """;
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        command.Parameters.AddWithValue("$chunk", chunkIndex);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken) || reader.IsDBNull(0))
        {
            return null;
        }

        var payload = reader.GetFieldValue<byte[]>(0);
        return reader.GetBoolean(1) && payload.Length > 0 ? database.Keys.Open(connection, tenantId, InputPlace(bulkJobId, chunkIndex), payload) : payload;
    }

    public async Task<BulkProgress> CompleteBulkSplitAsync(string tenantId, Guid bulkJobId, int chunkCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(chunkCount);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            // The first count stands: a re-split of the same file after a crash finds the same chunks.
            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE bulk_jobs SET chunks_total = $count WHERE tenant_id = $tenant_id AND id = $id AND chunks_total IS NULL";
            update.Parameters.AddWithValue("$count", chunkCount);
            update.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
            update.Parameters.AddWithValue("$tenant_id", tenantId);
            return ReadProgress(connection, transaction, tenantId, bulkJobId, recorded: update.ExecuteNonQuery() == 1);
        }, cancellationToken);
    }

    public async Task<BulkProgress> SaveBulkChunkResultAsync(string tenantId, Guid bulkJobId, int chunkIndex, BulkChunkResult result,
        CancellationToken cancellationToken = default)
    {
        BulkStoreRules.CheckChunk(chunkIndex);
        BulkStoreRules.CheckResult(result);
        var output = AsArray(result.Output);
        var errors = AsArray(result.Errors);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            var storedOutput = SealChunk(connection, transaction, tenantId, ResultPlace(BulkResultKind.Output, bulkJobId, chunkIndex), output);
            var storedErrors = SealChunk(connection, transaction, tenantId, ResultPlace(BulkResultKind.Errors, bulkJobId, chunkIndex), errors);
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT OR IGNORE INTO bulk_chunk_results (tenant_id, bulk_id, chunk_index, succeeded, failed, skipped, output, errors, sealed)
                VALUES ($tenant_id, $id, $chunk, $succeeded, $failed, $skipped, $output, $errors, $sealed)
                """;
            insert.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
            insert.Parameters.AddWithValue("$tenant_id", tenantId);
            insert.Parameters.AddWithValue("$chunk", chunkIndex);
            insert.Parameters.AddWithValue("$succeeded", result.Succeeded);
            insert.Parameters.AddWithValue("$failed", result.Failed);
            insert.Parameters.AddWithValue("$skipped", result.Skipped);
            insert.Parameters.Add("$output", SqliteType.Blob).Value = storedOutput;
            insert.Parameters.Add("$errors", SqliteType.Blob).Value = storedErrors;
            insert.Parameters.AddWithValue("$sealed", database.Keys.Enabled);
            var isNew = insert.ExecuteNonQuery() == 1;
            if (isNew)
            {
                using var update = connection.CreateCommand();
                update.Transaction = transaction;
                update.CommandText = """
                    UPDATE bulk_jobs SET succeeded = succeeded + $succeeded, failed = failed + $failed,
                        chunks_done = chunks_done + 1, chunks_skipped = chunks_skipped + $skipped
                    WHERE tenant_id = $tenant_id AND id = $id
                    """;
                update.Parameters.AddWithValue("$succeeded", result.Succeeded);
                update.Parameters.AddWithValue("$failed", result.Failed);
                update.Parameters.AddWithValue("$skipped", result.Skipped ? 1 : 0);
                update.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
                update.Parameters.AddWithValue("$tenant_id", tenantId);
                update.ExecuteNonQuery();
            }

            // An unknown job throws here, and the rollback takes the orphaned result with it.
            return ReadProgress(connection, transaction, tenantId, bulkJobId, isNew);
        }, cancellationToken);
    }

    public async Task CopyBulkResultsToAsync(string tenantId, Guid bulkJobId, BulkResultKind kind, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var column = BulkStoreRules.ResultField(kind);

        await using var connection = await database.OpenAsync(cancellationToken);
        ThrowIfExpired(connection, "SELECT outputs_expired_at FROM bulk_jobs WHERE tenant_id = $tenant_id AND id = $id",
            $"The results of bulk job {bulkJobId} were removed under its tenant's retention.", ("$tenant_id", tenantId), ("$id", JobCursor.GuidBytes(bulkJobId)));

        // Row ids only (a few bytes a chunk); the blobs follow one at a time, plain ones through one pooled buffer.
        var chunks = new List<(long RowId, bool Sealed, int ChunkIndex)>();
        string? storedTenantId = null;
        await using (var command = connection.CreateCommand())
        {
#pragma warning disable CA2100 // The column is one of two constant names; the id is a parameter.
            command.CommandText = $"""
                SELECT j.tenant_id, r.rowid, r.sealed, r.chunk_index FROM bulk_jobs j
                LEFT JOIN bulk_chunk_results r ON r.tenant_id = j.tenant_id AND r.bulk_id = j.id AND length(r.{column}) > 0
                WHERE j.tenant_id = $tenant_id AND j.id = $id ORDER BY r.chunk_index
                """;
#pragma warning restore CA2100
            command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
            command.Parameters.AddWithValue("$tenant_id", tenantId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                storedTenantId = reader.GetString(0);
                if (!reader.IsDBNull(1))
                {
                    chunks.Add((reader.GetInt64(1), reader.GetBoolean(2), reader.GetInt32(3)));
                }
            }
        }

        if (storedTenantId is null)
        {
            throw BulkStoreRules.UnknownJob(bulkJobId);
        }

        await SqliteFiles.CopyBlobsAsync(database, connection, "bulk_chunk_results", column, storedTenantId,
            chunks.Select(c => (c.RowId, c.Sealed ? ResultPlace(kind, bulkJobId, c.ChunkIndex) : null)), destination, cancellationToken);
    }

    public async Task DeleteBulkChunkInputsAsync(string tenantId, Guid bulkJobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "UPDATE bulk_chunk_inputs SET payload = NULL WHERE tenant_id = $tenant_id AND bulk_id = $id AND payload IS NOT NULL";
            command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
            command.Parameters.AddWithValue("$tenant_id", tenantId);
            command.ExecuteNonQuery();
        }, cancellationToken);
    }

    private static string InputPlace(Guid bulkJobId, int chunkIndex) => $"bulk-input:{bulkJobId:N}:{chunkIndex}";

    private static string ResultPlace(BulkResultKind kind, Guid bulkJobId, int chunkIndex) =>
        $"bulk-{BulkStoreRules.ResultField(kind)}:{bulkJobId:N}:{chunkIndex}";

    /// <summary>A chunk's payload as stored: sealed under its tenant's key when encryption is on (the row's <c>sealed</c>
    /// flag says so) and there is something to seal: an empty payload stays empty, so that listings of non-empty chunks
    /// still skip it.</summary>
    private byte[] SealChunk(SqliteConnection connection, SqliteTransaction transaction, string tenantId, string place, byte[] payload) =>
        database.Keys.Enabled && payload.Length > 0 ? database.Keys.Seal(connection, transaction, tenantId, place, payload) : payload;

    private static BulkProgress ReadProgress(SqliteConnection connection, SqliteTransaction transaction, string tenantId, Guid bulkJobId, bool recorded)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {BulkProgressColumns} FROM bulk_jobs WHERE tenant_id = $tenant_id AND id = $id";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(bulkJobId));
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            throw BulkStoreRules.UnknownJob(bulkJobId);
        }

        return new BulkProgress(recorded, reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetInt32(1), reader.GetInt32(2));
    }

    private static List<BulkJobRecord> ReadBulkJobs(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var found = new List<BulkJobRecord>();
        while (reader.Read())
        {
            found.Add(new BulkJobRecord
            {
                BulkJobId = new Guid(reader.GetFieldValue<byte[]>(0), bigEndian: true),
                Model = reader.GetString(1),
                ModelVersion = reader.IsDBNull(2) ? null : reader.GetInt32(2),
                Status = Enum.Parse<BulkJobStatus>(reader.GetString(3)),
                InputFileId = reader.GetString(4),
                Format = reader.IsDBNull(5) ? null : Enum.Parse<BulkInputFormat>(reader.GetString(5)),
                ChunkSize = reader.IsDBNull(6) ? null : reader.GetInt32(6),
                CallbackUrl = reader.IsDBNull(7) ? null : reader.GetString(7),
                ExpiresAt = reader.IsDBNull(8) ? null : JobCursor.FromUtcTicks(reader.GetInt64(8)),
                SubmittedAt = JobCursor.FromUtcTicks(reader.GetInt64(9)),
                StartedAt = reader.IsDBNull(10) ? null : JobCursor.FromUtcTicks(reader.GetInt64(10)),
                CompletedAt = reader.IsDBNull(11) ? null : JobCursor.FromUtcTicks(reader.GetInt64(11)),
                Error = reader.IsDBNull(12) ? null : reader.GetString(12),
                Total = reader.GetInt64(13),
                Succeeded = reader.GetInt64(14),
                Failed = reader.GetInt64(15),
                ChunksDone = reader.GetInt32(16),
                ChunksTotal = reader.IsDBNull(17) ? null : reader.GetInt32(17),
                ChunksSkipped = reader.GetInt32(18),
                TenantId = reader.GetString(19),
                OutputsExpiredAt = reader.IsDBNull(20) ? null : JobCursor.FromUtcTicks(reader.GetInt64(20)),
            });
        }

        return found;
    }
}
