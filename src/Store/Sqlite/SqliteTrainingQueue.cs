using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;
using static AIaaS.Queue.Store.SqliteCommands;
using static AIaaS.Queue.Store.SqliteJobRows;

namespace AIaaS.Queue.Store;

/// <summary>
/// The embedded store's train queue. A train job has a row in "jobs" (what clients read) and one in "train_jobs" (the
/// request and the work-queue state: lease, attempts, cancel flag); both change, with the job's events, in one
/// transaction. What a claim or a cancel does is <see cref="TrainQueueRules"/>' decision; this class reads and writes.
/// </summary>
public sealed class SqliteTrainingQueue(SqliteDatabase database) : ITrainingQueue
{
    public async Task<bool> EnqueueTrainJobAsync(SubmitTrainJob request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var now = database.Time.GetUtcNow();
        var queued = TrainQueueRules.QueuedJob(request);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT OR IGNORE INTO train_jobs (tenant_id, id, request, queued_at, state) VALUES ($tenant_id, $id, $request, $queued_at, 'Queued')
                """;
            insert.Parameters.AddWithValue("$tenant_id", queued.TenantId);
            insert.Parameters.AddWithValue("$id", JobCursor.GuidBytes(request.JobId));
            insert.Parameters.AddWithValue("$request", SealRequest(connection, transaction, queued.TenantId, request));
            insert.Parameters.AddWithValue("$queued_at", now.UtcTicks);
            if (insert.ExecuteNonQuery() == 0)
            {
                return false;
            }

            using var job = connection.CreateCommand();
            job.Transaction = transaction;
            job.CommandText = UpsertSql;
            new JobParameters(job, database.Keys).Bind(queued);
            job.ExecuteNonQuery();
            SqliteJobEventStore.Append(connection, transaction, queued.TenantId, request.JobId, [TrainQueueRules.QueuedEvent(now)]);
            return true;
        }, cancellationToken);
    }

    public async Task<TrainJobClaim?> ClaimTrainJobAsync(string workerId, TimeSpan lease, int maxAttempts, ICollection<SettledTrainJob>? settled = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            var now = database.Time.GetUtcNow();

            // Jobs that cannot run (out of attempts, cancelled while their worker was gone) are settled on the way.
            for (var candidates = 0; candidates < 50; candidates++)
            {
                using var select = connection.CreateCommand();
                select.Transaction = transaction;
                select.CommandText = """
                    SELECT id, request, state, attempts, lease_owner, cancel_requested, last_error, tenant_id FROM train_jobs
                    WHERE state = 'Queued' OR (state = 'Running' AND lease_until < $now)
                    ORDER BY queued_at LIMIT 1
                    """;
                select.Parameters.AddWithValue("$now", now.UtcTicks);
                TrainQueueEntry entry;
                string tenantId;
                using (var reader = select.ExecuteReader())
                {
                    if (!reader.Read())
                    {
                        return null;
                    }

                    tenantId = reader.GetString(7);
                    entry = new TrainQueueEntry(
                        new Guid(reader.GetFieldValue<byte[]>(0), bigEndian: true),
                        OpenRequest(connection, transaction, tenantId, new Guid(reader.GetFieldValue<byte[]>(0), bigEndian: true), reader.GetValue(1)),
                        TrainQueueRules.ParseState(reader.GetString(2)),
                        reader.GetInt32(3),
                        reader.IsDBNull(4) ? null : reader.GetString(4),
                        reader.GetInt64(5) != 0,
                        reader.IsDBNull(6) ? null : reader.GetString(6));
                }

                var decision = TrainQueueRules.Claim(entry, workerId, maxAttempts, now);
                if (decision.Claimed)
                {
                    SetTrainState(connection, transaction, tenantId, entry.JobId, TrainQueueState.Running, workerId, (now + lease).UtcTicks, decision.LastError, decision.Attempts);
                    UpdateJobRow(connection, transaction, tenantId, entry.JobId, JobStatus.Running, now, decision.WorkerId, error: null, completed: false);
                    SqliteJobEventStore.Append(connection, transaction, tenantId, entry.JobId, decision.Events);
                    return new TrainJobClaim(entry.Request, decision.Attempts, decision.LastError);
                }

                SetTrainState(connection, transaction, tenantId, entry.JobId, TrainQueueState.Done, null, null, decision.LastError, decision.Attempts);
                UpdateJobRow(connection, transaction, tenantId, entry.JobId, decision.Status, now, decision.WorkerId, decision.Error, completed: true);
                SqliteJobEventStore.Append(connection, transaction, tenantId, entry.JobId, decision.Events);
                settled?.Add(new SettledTrainJob(entry.Request, decision.Status, decision.Error!));
            }

            return null;
        }, cancellationToken);
    }

    public async Task<TrainLeaseState> RenewTrainLeaseAsync(string tenantId, Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE train_jobs SET lease_until = $until WHERE tenant_id = $tenant_id AND id = $id AND lease_owner = $owner AND state = 'Running'
                RETURNING cancel_requested
                """;
            command.Parameters.AddWithValue("$until", (database.Time.GetUtcNow() + lease).UtcTicks);
            command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            command.Parameters.AddWithValue("$tenant_id", tenantId);
            command.Parameters.AddWithValue("$owner", workerId);
            return command.ExecuteScalar() is long cancel ? new TrainLeaseState(true, cancel != 0) : new TrainLeaseState(false, false);
        }, cancellationToken);
    }

    public async Task ReleaseTrainJobAsync(string tenantId, Guid jobId, string workerId, string reason, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE train_jobs SET state = 'Queued', lease_owner = NULL, lease_until = NULL, last_error = $reason
                WHERE tenant_id = $tenant_id AND id = $id AND lease_owner = $owner AND state = 'Running'
                """;
            command.Parameters.AddWithValue("$reason", reason);
            command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            command.Parameters.AddWithValue("$tenant_id", tenantId);
            command.Parameters.AddWithValue("$owner", workerId);
            if (command.ExecuteNonQuery() > 0)
            {
                UpdateJobRow(connection, transaction, tenantId, jobId, JobStatus.Queued, database.Time.GetUtcNow(), workerId, reason, completed: false);
            }
        }, cancellationToken);
    }

    public async Task<SubmitTrainJob?> GetTrainRequestAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT request FROM train_jobs WHERE tenant_id = $tenant_id AND id = $id";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        return await command.ExecuteScalarAsync(cancellationToken) is { } stored and not DBNull
            ? OpenRequest(connection, null, tenantId, jobId, stored)
            : null;
    }

    // A train request can carry the customer's records inline (TrainingDataset.Rows): under Store:Encryption it is sealed
    // under its job's tenant's key and bound to the job (a BLOB, where a plain request is TEXT).
    private static string RequestPlace(Guid jobId) => $"train-request:{jobId:N}";

    private object SealRequest(SqliteConnection connection, SqliteTransaction transaction, string tenantId, SubmitTrainJob request)
    {
        var json = JsonSerializer.Serialize(request, StoreJson.Options);
        return database.Keys.Enabled
            ? database.Keys.Seal(connection, transaction, tenantId, RequestPlace(request.JobId), Encoding.UTF8.GetBytes(json))
            : json;
    }

    private SubmitTrainJob OpenRequest(SqliteConnection connection, SqliteTransaction? transaction, string tenantId, Guid jobId, object stored)
    {
        var json = stored is byte[] sealedRequest
            ? Encoding.UTF8.GetString(database.Keys.Open(connection, tenantId, RequestPlace(jobId), sealedRequest, transaction))
            : (string)stored;
        return JsonSerializer.Deserialize<SubmitTrainJob>(json, StoreJson.Options)!;
    }

    public async Task<JobStatus?> RequestCancelAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync<JobStatus?>(connection, (connection, transaction) =>
        {
            var now = database.Time.GetUtcNow();
            using var select = connection.CreateCommand();
            select.Transaction = transaction;
            select.CommandText = "SELECT state FROM train_jobs WHERE tenant_id = $tenant_id AND id = $id";
            select.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            select.Parameters.AddWithValue("$tenant_id", tenantId);
            if (select.ExecuteScalar() is string state && TrainQueueRules.Cancel(TrainQueueRules.ParseState(state), now) is { } outcome)
            {
                SetCancelFlag(connection, transaction, tenantId, jobId, done: outcome.EndsNow);
                if (outcome.EndsNow)
                {
                    UpdateJobRow(connection, transaction, tenantId, jobId, outcome.Status, now, null, outcome.Error, completed: true);
                }

                SqliteJobEventStore.Append(connection, transaction, tenantId, jobId, [outcome.Event]);
                return outcome.Status;
            }

            using var job = connection.CreateCommand();
            job.Transaction = transaction;
            job.CommandText = "SELECT status FROM jobs WHERE tenant_id = $tenant_id AND id = $id";
            job.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            job.Parameters.AddWithValue("$tenant_id", tenantId);
            return job.ExecuteScalar() is string status ? Enum.Parse<JobStatus>(status) : null;
        }, cancellationToken);
    }

    public async Task<bool> FinishTrainJobAsync(string tenantId, Guid jobId, string workerId, JobStatus status, int? modelVersion, string? device, string? error,
        string? eventMessage, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE train_jobs SET state = 'Done', lease_owner = NULL, lease_until = NULL, last_error = COALESCE($error, last_error)
                WHERE tenant_id = $tenant_id AND id = $id AND lease_owner = $owner AND state = 'Running'
                """;
            command.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
            command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            command.Parameters.AddWithValue("$tenant_id", tenantId);
            command.Parameters.AddWithValue("$owner", workerId);
            if (command.ExecuteNonQuery() == 0)
            {
                return false;
            }

            using var job = connection.CreateCommand();
            job.Transaction = transaction;
            job.CommandText = """
                UPDATE jobs SET status = $status, completed_at = $now, model_version = $version, device = $device, error = $error, worker_id = $owner
                WHERE tenant_id = $tenant_id AND id = $id
                """;
            job.Parameters.AddWithValue("$status", status.ToString());
            job.Parameters.AddWithValue("$now", database.Time.GetUtcNow().UtcTicks);
            job.Parameters.AddWithValue("$version", (object?)modelVersion ?? DBNull.Value);
            job.Parameters.AddWithValue("$device", (object?)device ?? DBNull.Value);
            job.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
            job.Parameters.AddWithValue("$owner", workerId);
            job.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            job.Parameters.AddWithValue("$tenant_id", tenantId);
            job.ExecuteNonQuery();
            SqliteJobEventStore.Append(connection, transaction, tenantId, jobId, [TrainQueueRules.Closing(status, eventMessage, database.Time.GetUtcNow())]);
            return true;
        }, cancellationToken);
    }

    private static void SetTrainState(SqliteConnection connection, SqliteTransaction transaction, string tenantId, Guid id, TrainQueueState state,
        string? owner, long? leaseUntil, string? lastError, int attempts)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            UPDATE train_jobs SET state = $state, lease_owner = $owner, lease_until = $until, last_error = $error, attempts = $attempts
            WHERE tenant_id = $tenant_id AND id = $id
            """;
        command.Parameters.AddWithValue("$state", state.ToString());
        command.Parameters.AddWithValue("$owner", (object?)owner ?? DBNull.Value);
        command.Parameters.AddWithValue("$until", (object?)leaseUntil ?? DBNull.Value);
        command.Parameters.AddWithValue("$error", (object?)lastError ?? DBNull.Value);
        command.Parameters.AddWithValue("$attempts", attempts);
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(id));
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        command.ExecuteNonQuery();
    }

    private static void SetCancelFlag(SqliteConnection connection, SqliteTransaction transaction, string tenantId, Guid id, bool done)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = done
            ? "UPDATE train_jobs SET cancel_requested = 1, state = 'Done' WHERE tenant_id = $tenant_id AND id = $id"
            : "UPDATE train_jobs SET cancel_requested = 1 WHERE tenant_id = $tenant_id AND id = $id";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(id));
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        command.ExecuteNonQuery();
    }
}
