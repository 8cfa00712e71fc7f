using System.Buffers;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

// Train jobs, their events and uploaded data files. A train job has a row in "jobs" (what clients read) and one in
// "train_jobs" (the request and the work-queue state: lease, attempts, cancel flag). Both change in one transaction.
public sealed partial class SqliteStore
{
    private static int? FindVersionByTrainingJob(SqliteConnection connection, SqliteTransaction transaction, Guid trainingJobId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT version FROM model_versions WHERE training_job_id = $id";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(trainingJobId));
        return command.ExecuteScalar() is long version ? checked((int)version) : null;
    }

    public async Task<bool> EnqueueTrainJobAsync(SubmitTrainJob request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var now = _time.GetUtcNow();
        await using var connection = await OpenAsync(cancellationToken);
        return await WriteAsync(connection, (connection, transaction) =>
        {
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT OR IGNORE INTO train_jobs (id, request, queued_at, state) VALUES ($id, $request, $queued_at, 'Queued')
                """;
            insert.Parameters.AddWithValue("$id", JobCursor.GuidBytes(request.JobId));
            insert.Parameters.AddWithValue("$request", JsonSerializer.Serialize(request, StoreJson.Options));
            insert.Parameters.AddWithValue("$queued_at", now.UtcTicks);
            if (insert.ExecuteNonQuery() == 0)
            {
                return false;
            }

            using var job = connection.CreateCommand();
            job.Transaction = transaction;
            job.CommandText = UpsertSql;
            new JobParameters(job, this).Bind(new JobRecord
            {
                JobId = request.JobId,
                TenantId = Tenants.OrDefault(request.Sender?.TenantId),
                Kind = JobKind.Train,
                Model = request.Model,
                Status = JobStatus.Queued,
                SubmittedAt = request.SubmittedAt,
            });
            job.ExecuteNonQuery();
            AppendEvents(connection, transaction, request.JobId, [new JobEventView { Sequence = 0, Type = JobEventTypes.Queued, At = now }]);
            return true;
        }, cancellationToken);
    }

    public async Task<TrainJobClaim?> ClaimTrainJobAsync(string workerId, TimeSpan lease, int maxAttempts, ICollection<SettledTrainJob>? settled = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        await using var connection = await OpenAsync(cancellationToken);
        return await WriteAsync(connection, (connection, transaction) =>
        {
            var now = _time.GetUtcNow();

            // Jobs that cannot run (out of attempts, cancelled while their worker was gone) are settled on the way.
            for (var candidates = 0; candidates < 50; candidates++)
            {
                using var select = connection.CreateCommand();
                select.Transaction = transaction;
                select.CommandText = """
                    SELECT id, request, state, attempts, lease_owner, cancel_requested, last_error FROM train_jobs
                    WHERE state = 'Queued' OR (state = 'Running' AND lease_until < $now)
                    ORDER BY queued_at LIMIT 1
                    """;
                select.Parameters.AddWithValue("$now", now.UtcTicks);
                Guid id;
                SubmitTrainJob request;
                bool wasRunning, cancelRequested;
                int attempts;
                string? owner, lastError;
                using (var reader = select.ExecuteReader())
                {
                    if (!reader.Read())
                    {
                        return null;
                    }

                    id = new Guid(reader.GetFieldValue<byte[]>(0), bigEndian: true);
                    request = JsonSerializer.Deserialize<SubmitTrainJob>(reader.GetString(1), StoreJson.Options)!;
                    wasRunning = reader.GetString(2) == "Running";
                    attempts = reader.GetInt32(3);
                    owner = reader.IsDBNull(4) ? null : reader.GetString(4);
                    cancelRequested = reader.GetInt64(5) != 0;
                    lastError = reader.IsDBNull(6) ? null : reader.GetString(6);
                }

                var events = new List<JobEventView>();
                if (wasRunning)
                {
                    lastError = $"worker {owner} stopped renewing its lease on attempt {attempts} (it crashed or was stopped)";
                    events.Add(new JobEventView { Sequence = 0, Type = JobEventTypes.AttemptFailed, At = now, Attempt = attempts, Message = lastError });
                }

                if (cancelRequested || attempts >= maxAttempts)
                {
                    var (status, error) = cancelRequested
                        ? (JobStatus.Cancelled, "cancelled")
                        : (JobStatus.Failed, $"gave up after {attempts} attempt(s): {lastError}");
                    SetTrainState(connection, transaction, id, "Done", null, null, lastError, attempts);
                    UpdateJobRow(connection, transaction, id, status, now, workerId: owner, error: error, completed: true);
                    events.Add(new JobEventView { Sequence = 0, Type = status.ToString().ToLowerInvariant(), At = now, Message = error });
                    AppendEvents(connection, transaction, id, events);
                    settled?.Add(new SettledTrainJob(request, status, error));
                    continue;
                }

                attempts++;
                SetTrainState(connection, transaction, id, "Running", workerId, (now + lease).UtcTicks, lastError, attempts);
                UpdateJobRow(connection, transaction, id, JobStatus.Running, now, workerId, error: null, completed: false);
                events.Add(new JobEventView { Sequence = 0, Type = JobEventTypes.Started, At = now, Attempt = attempts, Message = $"worker {workerId}" });
                AppendEvents(connection, transaction, id, events);
                return new TrainJobClaim(request, attempts, lastError);
            }

            return null;
        }, cancellationToken);
    }

    public async Task<TrainLeaseState> RenewTrainLeaseAsync(Guid jobId, string workerId, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE train_jobs SET lease_until = $until WHERE id = $id AND lease_owner = $owner AND state = 'Running'
                RETURNING cancel_requested
                """;
            command.Parameters.AddWithValue("$until", (_time.GetUtcNow() + lease).UtcTicks);
            command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            command.Parameters.AddWithValue("$owner", workerId);
            return command.ExecuteScalar() is long cancel ? new TrainLeaseState(true, cancel != 0) : new TrainLeaseState(false, false);
        }, cancellationToken);
    }

    public async Task ReleaseTrainJobAsync(Guid jobId, string workerId, string reason, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE train_jobs SET state = 'Queued', lease_owner = NULL, lease_until = NULL, last_error = $reason
                WHERE id = $id AND lease_owner = $owner AND state = 'Running'
                """;
            command.Parameters.AddWithValue("$reason", reason);
            command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            command.Parameters.AddWithValue("$owner", workerId);
            if (command.ExecuteNonQuery() > 0)
            {
                UpdateJobRow(connection, transaction, jobId, JobStatus.Queued, _time.GetUtcNow(), workerId, reason, completed: false);
            }
        }, cancellationToken);
    }

    public async Task<SubmitTrainJob?> GetTrainRequestAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT request FROM train_jobs WHERE id = $id";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
        return await command.ExecuteScalarAsync(cancellationToken) is string request
            ? JsonSerializer.Deserialize<SubmitTrainJob>(request, StoreJson.Options)
            : null;
    }

    public async Task<JobStatus?> RequestCancelAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await WriteAsync<JobStatus?>(connection, (connection, transaction) =>
        {
            var now = _time.GetUtcNow();
            using var select = connection.CreateCommand();
            select.Transaction = transaction;
            select.CommandText = "SELECT state FROM train_jobs WHERE id = $id";
            select.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            var state = select.ExecuteScalar() as string;
            if (state == "Queued")
            {
                SetCancelFlag(connection, transaction, jobId, done: true);
                UpdateJobRow(connection, transaction, jobId, JobStatus.Cancelled, now, null, "cancelled before it started", completed: true);
                AppendEvents(connection, transaction, jobId, [new JobEventView { Sequence = 0, Type = JobEventTypes.Cancelled, At = now, Message = "cancelled before it started" }]);
                return JobStatus.Cancelled;
            }

            if (state == "Running")
            {
                SetCancelFlag(connection, transaction, jobId, done: false);
                AppendEvents(connection, transaction, jobId, [new JobEventView { Sequence = 0, Type = JobEventTypes.CancelRequested, At = now }]);
                return JobStatus.Running;
            }

            using var job = connection.CreateCommand();
            job.Transaction = transaction;
            job.CommandText = "SELECT status FROM jobs WHERE id = $id";
            job.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            return job.ExecuteScalar() is string status ? Enum.Parse<JobStatus>(status) : null;
        }, cancellationToken);
    }

    public async Task<bool> FinishTrainJobAsync(Guid jobId, string workerId, JobStatus status, int? modelVersion, string? device, string? error,
        string? eventMessage, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE train_jobs SET state = 'Done', lease_owner = NULL, lease_until = NULL, last_error = COALESCE($error, last_error)
                WHERE id = $id AND lease_owner = $owner AND state = 'Running'
                """;
            command.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
            command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            command.Parameters.AddWithValue("$owner", workerId);
            if (command.ExecuteNonQuery() == 0)
            {
                return false;
            }

            using var job = connection.CreateCommand();
            job.Transaction = transaction;
            job.CommandText = """
                UPDATE jobs SET status = $status, completed_at = $now, model_version = $version, device = $device, error = $error, worker_id = $owner
                WHERE id = $id
                """;
            job.Parameters.AddWithValue("$status", status.ToString());
            job.Parameters.AddWithValue("$now", _time.GetUtcNow().UtcTicks);
            job.Parameters.AddWithValue("$version", (object?)modelVersion ?? DBNull.Value);
            job.Parameters.AddWithValue("$device", (object?)device ?? DBNull.Value);
            job.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
            job.Parameters.AddWithValue("$owner", workerId);
            job.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
            job.ExecuteNonQuery();
            AppendEvents(connection, transaction, jobId, [TrainQueueRules.Closing(status, eventMessage, _time.GetUtcNow())]);
            return true;
        }, cancellationToken);
    }

    private static void SetTrainState(SqliteConnection connection, SqliteTransaction transaction, Guid id, string state,
        string? owner, long? leaseUntil, string? lastError, int attempts)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            UPDATE train_jobs SET state = $state, lease_owner = $owner, lease_until = $until, last_error = $error, attempts = $attempts
            WHERE id = $id
            """;
        command.Parameters.AddWithValue("$state", state);
        command.Parameters.AddWithValue("$owner", (object?)owner ?? DBNull.Value);
        command.Parameters.AddWithValue("$until", (object?)leaseUntil ?? DBNull.Value);
        command.Parameters.AddWithValue("$error", (object?)lastError ?? DBNull.Value);
        command.Parameters.AddWithValue("$attempts", attempts);
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(id));
        command.ExecuteNonQuery();
    }

    private static void SetCancelFlag(SqliteConnection connection, SqliteTransaction transaction, Guid id, bool done)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = done
            ? "UPDATE train_jobs SET cancel_requested = 1, state = 'Done' WHERE id = $id"
            : "UPDATE train_jobs SET cancel_requested = 1 WHERE id = $id";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(id));
        command.ExecuteNonQuery();
    }

    private static void UpdateJobRow(SqliteConnection connection, SqliteTransaction transaction, Guid id, JobStatus status,
        DateTimeOffset now, string? workerId, string? error, bool completed)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = completed
            ? "UPDATE jobs SET status = $status, completed_at = $now, worker_id = COALESCE($worker, worker_id), error = $error WHERE id = $id"
            : "UPDATE jobs SET status = $status, started_at = $now, worker_id = COALESCE($worker, worker_id), error = $error WHERE id = $id";
        command.Parameters.AddWithValue("$status", status.ToString());
        command.Parameters.AddWithValue("$now", now.UtcTicks);
        command.Parameters.AddWithValue("$worker", (object?)workerId ?? DBNull.Value);
        command.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(id));
        command.ExecuteNonQuery();
    }

    // ---- events ----

    public async Task AppendJobEventsAsync(Guid jobId, IReadOnlyList<JobEventView> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await WriteAsync(connection, (connection, transaction) => AppendEvents(connection, transaction, jobId, events), cancellationToken);
    }

    private static void AppendEvents(SqliteConnection connection, SqliteTransaction transaction, Guid jobId, IReadOnlyList<JobEventView> events)
    {
        var last = ExecuteScalar<long>(connection, transaction, "SELECT COALESCE(MAX(seq), 0) FROM job_events WHERE job_id = $id",
            ("$id", JobCursor.GuidBytes(jobId)));
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO job_events (job_id, seq, body) VALUES ($id, $seq, $body)";
        var id = insert.Parameters.Add("$id", SqliteType.Blob);
        var seq = insert.Parameters.Add("$seq", SqliteType.Integer);
        var body = insert.Parameters.Add("$body", SqliteType.Text);
        id.Value = JobCursor.GuidBytes(jobId);
        foreach (var e in events)
        {
            var numbered = e with { Sequence = ++last };
            seq.Value = numbered.Sequence;
            body.Value = JsonSerializer.Serialize(numbered, StoreJson.Options);
            insert.ExecuteNonQuery();
        }
    }

    public async Task<IReadOnlyList<JobEventView>> ListJobEventsAsync(Guid jobId, long afterSequence = 0, int limit = 1000,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM job_events WHERE job_id = $id AND seq > $after ORDER BY seq LIMIT $limit";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(jobId));
        command.Parameters.AddWithValue("$after", afterSequence);
        command.Parameters.AddWithValue("$limit", Math.Clamp(limit, 1, 10_000));
        var events = new List<JobEventView>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            events.Add(JsonSerializer.Deserialize<JobEventView>(reader.GetString(0), StoreJson.Options)!);
        }

        return events;
    }

    public async Task<ModelVersionRecord?> GetVersionByTrainingJobAsync(Guid trainingJobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {ModelColumns} FROM model_versions WHERE training_job_id = $id";
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(trainingJobId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadModel(reader) : null;
    }

    // ---- datasets ----

    public async Task<DatasetView> AddDatasetAsync(string tenantId, string name, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantId);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(content);
        await using var connection = await OpenAsync(cancellationToken);
        var fileId = await WriteAsync(connection, (connection, transaction) =>
            ExecuteScalar<long>(connection, transaction, "INSERT INTO model_files (created_at) VALUES ($now) RETURNING id",
                ("$now", _time.GetUtcNow().UtcTicks)), cancellationToken);
        try
        {
            var (size, sha256) = await WriteChunksAsync(connection, fileId, content, cancellationToken);
            var dataset = new DatasetView
            {
                Id = Guid.CreateVersion7().ToString("N"),
                Name = name,
                SizeBytes = size,
                Sha256 = sha256,
                CreatedAt = JobCursor.FromUtcTicks(_time.GetUtcNow().UtcTicks),
            };
            await WriteAsync(connection, (connection, transaction) =>
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
            await DeleteFileAsync(connection, fileId);
            throw;
        }
    }

    public async Task<DatasetView?> GetDatasetAsync(string tenantId, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await OpenAsync(cancellationToken);
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
        await using var connection = await OpenAsync(cancellationToken);
        ThrowIfExpired(connection, "SELECT expired_at FROM datasets WHERE id = $id AND tenant_id = $tenant_id",
            $"The content of dataset '{id}' was removed under its tenant's retention.", ("$id", id), ("$tenant_id", tenantId));
        List<long> rowIds;
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                SELECT c.rowid FROM datasets d LEFT JOIN model_file_chunks c ON c.file_id = d.file_id
                WHERE d.id = $id AND d.tenant_id = $tenant_id ORDER BY c.seq
                """;
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$tenant_id", tenantId);
            rowIds = await ReadBlobRowIdsAsync(command, cancellationToken)
                ?? throw new KeyNotFoundException($"No dataset with id '{id}' is stored.");
        }

        await CopyChunksAsync(connection, rowIds, destination, cancellationToken);
    }
}
