using System.Text.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

/// <summary>The "jobs" table's columns, statements and row mapping, shared by <see cref="SqliteJobStore"/> and
/// <see cref="SqliteTrainingQueue"/>, whose train-job changes move a job row in the same transaction.</summary>
internal static class SqliteJobRows
{
    public const string JobColumns =
        "id, kind, model, model_version, status, submitted_at, started_at, completed_at, device, batch_size, batch_id, worker_id, error, tenant_id, callback_url, cached";

    // What a read returns: the written columns and the tombstone the retention sweeper sets (never written by a job write).
    public const string JobReadColumns = JobColumns + ", payload_expired_at";

    // The table and the values of one job write, after INSERT.
    private const string JobRow = $"""
        jobs ({JobColumns}, outputs, explanation)
        VALUES ($id, $kind, $model, $model_version, $status, $submitted_at, $started_at, $completed_at, $device, $batch_size, $batch_id, $worker_id, $error, $tenant_id, $callback_url, $cached, $outputs, $explanation)
        """;

    // What a job's outcome sets over its row. The URL the job was first recorded with stays: it is the one it was submitted with.
    private const string OutcomeSet = """
            model_version = excluded.model_version, status = excluded.status, started_at = excluded.started_at,
            completed_at = excluded.completed_at, device = excluded.device, batch_size = excluded.batch_size,
            batch_id = excluded.batch_id, worker_id = excluded.worker_id, error = excluded.error, cached = excluded.cached,
            outputs = excluded.outputs, explanation = excluded.explanation,
            callback_url = COALESCE(jobs.callback_url, excluded.callback_url)
        """;

    public const string InsertIfAbsentSql = $"INSERT OR IGNORE INTO {JobRow}";

    // A job is keyed by (tenant_id, id): a write for an id another tenant holds lands on its own tenant's row and never
    // touches the other's.
    public const string UpsertSql = $"""
        INSERT INTO {JobRow}
        ON CONFLICT (tenant_id, id) DO UPDATE SET
            kind = excluded.kind, model = excluded.model, submitted_at = excluded.submitted_at,
        {OutcomeSet}
        """;

    // The conflict branch updates only a job that is not final; RETURNING yields a row only for a job written. It sets the
    // outcome's columns only: kind, model and submitted_at are the submission's, recorded with the queued row from the same
    // command, and leaving them out of SET spares the three indexes that lead with them (benchmark figure 14: a job
    // registered and then completed cost 1.31x the store writes of one completed unregistered, median of four runs,
    // and 1.07x after).
    public static readonly string CompleteSql = $"""
        INSERT INTO {JobRow}
        ON CONFLICT (tenant_id, id) DO UPDATE SET
        {OutcomeSet}
        WHERE jobs.status NOT IN ({SqliteCommands.SqlList(JobStoreRules.FinalStatuses)})
        RETURNING tenant_id, id
        """;

    public const string GetWithOutputsSql = $"SELECT {JobReadColumns}, outputs, explanation FROM jobs WHERE tenant_id = $tenant_id AND id = $id";
    public const string GetWithoutOutputsSql = $"SELECT {JobReadColumns} FROM jobs WHERE tenant_id = $tenant_id AND id = $id";

    public static JobRecord ReadJob(SqliteDataReader reader, bool withOutputs, SqliteConnection connection, SqliteKeyRing keys) => new()
    {
        JobId = new Guid(reader.GetFieldValue<byte[]>(0), bigEndian: true),
        Kind = Enum.Parse<JobKind>(reader.GetString(1)),
        Model = reader.GetString(2),
        ModelVersion = reader.IsDBNull(3) ? null : reader.GetInt32(3),
        Status = Enum.Parse<JobStatus>(reader.GetString(4)),
        SubmittedAt = JobCursor.FromUtcTicks(reader.GetInt64(5)),
        StartedAt = reader.IsDBNull(6) ? null : JobCursor.FromUtcTicks(reader.GetInt64(6)),
        CompletedAt = reader.IsDBNull(7) ? null : JobCursor.FromUtcTicks(reader.GetInt64(7)),
        Device = reader.IsDBNull(8) ? null : reader.GetString(8),
        BatchSize = reader.IsDBNull(9) ? null : reader.GetInt32(9),
        BatchId = reader.IsDBNull(10) ? null : reader.GetString(10),
        WorkerId = reader.IsDBNull(11) ? null : reader.GetString(11),
        Error = reader.IsDBNull(12) ? null : reader.GetString(12),
        TenantId = reader.GetString(13),
        CallbackUrl = reader.IsDBNull(14) ? null : reader.GetString(14),
        Cached = reader.GetInt64(15) != 0,
        PayloadExpiredAt = reader.IsDBNull(16) ? null : JobCursor.FromUtcTicks(reader.GetInt64(16)),
        Outputs = withOutputs && !reader.IsDBNull(17)
            ? StoreJson.ReadOutputs(keys.OpenJobPayload(connection, reader.GetString(13), reader.GetFieldValue<byte[]>(0), SqliteKeyRing.Outputs, reader.GetValue(17)))
            : null,
        Explanation = withOutputs && !reader.IsDBNull(18)
            ? JsonSerializer.Deserialize<Explanation>(
                keys.OpenJobPayload(connection, reader.GetString(13), reader.GetFieldValue<byte[]>(0), SqliteKeyRing.Explanation, reader.GetValue(18)),
                StoreJson.Options)
            : null,
    };

    public static void UpdateJobRow(SqliteConnection connection, SqliteTransaction transaction, string tenantId, Guid id, JobStatus status,
        DateTimeOffset now, string? workerId, string? error, bool completed)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = completed
            ? "UPDATE jobs SET status = $status, completed_at = $now, worker_id = COALESCE($worker, worker_id), error = $error WHERE tenant_id = $tenant_id AND id = $id"
            : "UPDATE jobs SET status = $status, started_at = $now, worker_id = COALESCE($worker, worker_id), error = $error WHERE tenant_id = $tenant_id AND id = $id";
        command.Parameters.AddWithValue("$status", status.ToString());
        command.Parameters.AddWithValue("$now", now.UtcTicks);
        command.Parameters.AddWithValue("$worker", (object?)workerId ?? DBNull.Value);
        command.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(id));
        command.ExecuteNonQuery();
    }

    public sealed class JobParameters
    {
        private readonly SqliteParameter _id, _kind, _model, _modelVersion, _status, _submittedAt, _startedAt,
            _completedAt, _device, _batchSize, _batchId, _workerId, _error, _tenantId, _callbackUrl, _cached, _outputs, _explanation;

        private readonly SqliteCommand _command;
        private readonly SqliteKeyRing _keys;

        public JobParameters(SqliteCommand command, SqliteKeyRing keys)
        {
            (_command, _keys) = (command, keys);
            var p = command.Parameters;
            _id = p.Add("$id", SqliteType.Blob);
            _kind = p.Add("$kind", SqliteType.Text);
            _model = p.Add("$model", SqliteType.Text);
            _modelVersion = p.Add("$model_version", SqliteType.Integer);
            _status = p.Add("$status", SqliteType.Text);
            _submittedAt = p.Add("$submitted_at", SqliteType.Integer);
            _startedAt = p.Add("$started_at", SqliteType.Integer);
            _completedAt = p.Add("$completed_at", SqliteType.Integer);
            _device = p.Add("$device", SqliteType.Text);
            _batchSize = p.Add("$batch_size", SqliteType.Integer);
            _batchId = p.Add("$batch_id", SqliteType.Text);
            _workerId = p.Add("$worker_id", SqliteType.Text);
            _error = p.Add("$error", SqliteType.Text);
            _tenantId = p.Add("$tenant_id", SqliteType.Text);
            _callbackUrl = p.Add("$callback_url", SqliteType.Text);
            _cached = p.Add("$cached", SqliteType.Integer);
            _outputs = p.Add("$outputs", SqliteType.Text);
            _explanation = p.Add("$explanation", SqliteType.Text);
        }

        public void Bind(JobRecord job)
        {
            _id.Value = JobCursor.GuidBytes(job.JobId);
            _kind.Value = job.Kind.ToString();
            _model.Value = job.Model;
            _modelVersion.Value = (object?)job.ModelVersion ?? DBNull.Value;
            _status.Value = job.Status.ToString();
            _submittedAt.Value = job.SubmittedAt.UtcTicks;
            _startedAt.Value = (object?)job.StartedAt?.UtcTicks ?? DBNull.Value;
            _completedAt.Value = (object?)job.CompletedAt?.UtcTicks ?? DBNull.Value;
            _device.Value = (object?)job.Device ?? DBNull.Value;
            _batchSize.Value = (object?)job.BatchSize ?? DBNull.Value;
            _batchId.Value = (object?)job.BatchId ?? DBNull.Value;
            _workerId.Value = (object?)job.WorkerId ?? DBNull.Value;
            _error.Value = (object?)job.Error ?? DBNull.Value;
            _tenantId.Value = job.TenantId;
            _callbackUrl.Value = (object?)job.CallbackUrl ?? DBNull.Value;
            _cached.Value = job.Cached ? 1 : 0;
            _outputs.Value = job.Outputs is null
                ? DBNull.Value
                : _keys.SealJobPayload(_command, job, SqliteKeyRing.Outputs, JsonSerializer.Serialize(job.Outputs, StoreJson.Options));
            _explanation.Value = job.Explanation is null
                ? DBNull.Value
                : _keys.SealJobPayload(_command, job, SqliteKeyRing.Explanation, JsonSerializer.Serialize(job.Explanation, StoreJson.Options));
        }
    }
}
