using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

/// <summary>
/// The embedded store: one SQLite file in WAL mode, created or upgraded to its schema (<see cref="SqliteSchema"/>) on first use.
/// Jobs keep their filter and paging keys in indexed columns and their outputs as JSON; model files are
/// streamed in and out as 1 MiB BLOB chunks, so no file is ever held in memory whole.
/// </summary>
public sealed partial class SqliteStore : IJobStore, IModelStore, IStoreHealth, ITrainingQueue, IJobEventStore, IDatasetStore, ITenantStore, IRetentionStore, IDisposable
{
    private const int ChunkSize = 1024 * 1024;
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

    // Encryption at rest (null: off): the cipher and each tenant's unwrapped data key, once read.
    private readonly PayloadCipher? _cipher;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _dataKeys = new(StringComparer.Ordinal);
    private int _disposed;

    public SqliteStore(string databasePath, TimeProvider? timeProvider = null, EmbeddedDurability durability = EmbeddedDurability.ProcessCrash,
        byte[]? masterKey = null)
    {
        _cipher = masterKey is null ? null : new PayloadCipher(masterKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        _path = Path.GetFullPath(databasePath);
        _time = timeProvider ?? TimeProvider.System;
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

    // ---- jobs ----

    private const string JobColumns =
        "id, kind, model, model_version, status, submitted_at, started_at, completed_at, device, batch_size, batch_id, worker_id, error, tenant_id, callback_url, cached";

    // What a read returns: the written columns and the tombstone the retention sweeper sets (never written by a job write).
    private const string JobReadColumns = JobColumns + ", payload_expired_at";

    private const string InsertIfAbsentSql = $"""
        INSERT OR IGNORE INTO jobs ({JobColumns}, outputs, explanation)
        VALUES ($id, $kind, $model, $model_version, $status, $submitted_at, $started_at, $completed_at, $device, $batch_size, $batch_id, $worker_id, $error, $tenant_id, $callback_url, $cached, $outputs, $explanation)
        """;

    // A job's tenant is set by the write that creates it and never changed: ids are client-chosen, so a write for an id
    // another tenant holds (a racing submission, or a worker running the other tenant's message) leaves that job alone.
    private const string UpsertSql = $"""
        INSERT INTO jobs ({JobColumns}, outputs, explanation)
        VALUES ($id, $kind, $model, $model_version, $status, $submitted_at, $started_at, $completed_at, $device, $batch_size, $batch_id, $worker_id, $error, $tenant_id, $callback_url, $cached, $outputs, $explanation)
        ON CONFLICT (id) DO UPDATE SET
            kind = excluded.kind, model = excluded.model, model_version = excluded.model_version, status = excluded.status,
            submitted_at = excluded.submitted_at, started_at = excluded.started_at, completed_at = excluded.completed_at,
            device = excluded.device, batch_size = excluded.batch_size, batch_id = excluded.batch_id,
            worker_id = excluded.worker_id, error = excluded.error, cached = excluded.cached, outputs = excluded.outputs, explanation = excluded.explanation,
            -- The URL the job was first recorded with stays: it is the one it was submitted with.
            callback_url = COALESCE(jobs.callback_url, excluded.callback_url)
        WHERE jobs.tenant_id = excluded.tenant_id
        """;

    // The conflict branch updates only a job of the same tenant that is not final; RETURNING yields a row only for a job written.
    private const string CompleteSql = UpsertSql + $"""

            AND jobs.status NOT IN ('{nameof(JobStatus.Succeeded)}', '{nameof(JobStatus.Failed)}', '{nameof(JobStatus.Cancelled)}', '{nameof(JobStatus.Expired)}')
        RETURNING id
        """;

    private const string GetWithOutputsSql = $"SELECT {JobReadColumns}, outputs, explanation FROM jobs WHERE id = $id";
    private const string GetWithoutOutputsSql = $"SELECT {JobReadColumns} FROM jobs WHERE id = $id";

    public Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return WriteJobsAsync(InsertIfAbsentSql, jobs, cancellationToken);
    }

    public Task UpsertAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return WriteJobsAsync(UpsertSql, jobs, cancellationToken);
    }

    public async Task<IReadOnlySet<Guid>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        if (jobs.Count == 0)
        {
            return new HashSet<Guid>();
        }

        await using var connection = await OpenAsync(cancellationToken);
        return await WriteAsync(connection, IReadOnlySet<Guid> (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = CompleteSql;
            var parameters = new JobParameters(command, this);
            command.Prepare();
            var written = new HashSet<Guid>();
            foreach (var job in jobs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                parameters.Bind(job);
                if (command.ExecuteScalar() is not null)
                {
                    written.Add(job.JobId);
                }
            }

            return written;
        }, cancellationToken);
    }

    private async Task WriteJobsAsync(string sql, IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken)
    {
        if (jobs.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            var parameters = new JobParameters(command, this);
            command.Prepare();
            foreach (var job in jobs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                parameters.Bind(job);
                command.ExecuteNonQuery();
            }
        }, cancellationToken);
    }

    public async Task<JobRecord?> GetAsync(Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = GetWithOutputsSql;
        command.Parameters.Add("$id", SqliteType.Blob).Value = JobCursor.GuidBytes(jobId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadJob(reader, withOutputs: true, connection) : null;
    }

    public async Task<IReadOnlyList<JobRecord>> GetManyAsync(
        IReadOnlyCollection<Guid> jobIds, bool includeOutputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobIds);
        if (jobIds.Count == 0)
        {
            return [];
        }

        await using var connection = await OpenAsync(cancellationToken);

        // Point lookups on the primary key through one prepared statement cost microseconds each and keep the SQL
        // constant; one deferred transaction gives them a single snapshot.
        using var transaction = connection.BeginTransaction(deferred: true);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = includeOutputs ? GetWithOutputsSql : GetWithoutOutputsSql;
        var id = command.Parameters.Add("$id", SqliteType.Blob);
        command.Prepare();

        var found = new List<JobRecord>(jobIds.Count);
        foreach (var jobId in jobIds.Distinct())
        {
            id.Value = JobCursor.GuidBytes(jobId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                found.Add(ReadJob(reader, includeOutputs, connection));
            }
        }

        transaction.Commit();
        return found;
    }

    // A range of ix_jobs_model_status, read no further than the limit (SqliteStoreContractTests checks the plan).
    internal const string CountJobsSql = "SELECT count(*) FROM (SELECT 1 FROM jobs WHERE model = $model AND status = $status LIMIT $limit)";

    public async Task<int> CountAsync(string model, JobStatus status, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = CountJobsSql;
        command.Parameters.Add("$model", SqliteType.Text).Value = model;
        command.Parameters.Add("$status", SqliteType.Text).Value = status.ToString();
        command.Parameters.Add("$limit", SqliteType.Integer).Value = limit;
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var limit = JobCursor.ClampLimit(query.Limit);

        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // Only fixed fragments are joined; every value travels as a parameter. Each filter matches the leading
        // column of an index ending in (submitted_at DESC, id DESC), so SQLite walks the index in page order.
        var where = new List<string>(5);
        if (query.TenantId is { } tenantId)
        {
            where.Add("tenant_id = $tenant_id");
            command.Parameters.Add("$tenant_id", SqliteType.Text).Value = tenantId;
        }

        if (query.Status is { } status)
        {
            where.Add("status = $status");
            command.Parameters.Add("$status", SqliteType.Text).Value = status.ToString();
        }

        if (query.Model is { } model)
        {
            where.Add("model = $model");
            command.Parameters.Add("$model", SqliteType.Text).Value = model;
        }

        if (query.Kind is { } kind)
        {
            where.Add("kind = $kind");
            command.Parameters.Add("$kind", SqliteType.Text).Value = kind.ToString();
        }

        if (query.Cursor is not null)
        {
            var (afterTicks, afterId) = JobCursor.Decode(query.Cursor);
            where.Add("(submitted_at, id) < ($after_ticks, $after_id)");
            command.Parameters.Add("$after_ticks", SqliteType.Integer).Value = afterTicks;
            command.Parameters.Add("$after_id", SqliteType.Blob).Value = JobCursor.GuidBytes(afterId);
        }

        var sql = new StringBuilder("SELECT ").Append(JobReadColumns).Append(" FROM jobs");
        if (where.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", where);
        }

        sql.Append(" ORDER BY submitted_at DESC, id DESC LIMIT $limit");
        command.Parameters.Add("$limit", SqliteType.Integer).Value = limit + 1;
#pragma warning disable CA2100 // Built from the constant fragments above; values are parameters.
        command.CommandText = sql.ToString();
#pragma warning restore CA2100

        var items = new List<JobRecord>(Math.Min(limit + 1, 128));
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                items.Add(ReadJob(reader, withOutputs: false, connection));
            }
        }

        if (items.Count <= limit)
        {
            return new JobPage(items, null);
        }

        items.RemoveAt(limit);
        return new JobPage(items, JobCursor.Encode(items[^1]));
    }

    private JobRecord ReadJob(SqliteDataReader reader, bool withOutputs, SqliteConnection connection) => new()
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
            ? StoreJson.ReadOutputs(reader.GetValue(17) is byte[] sealedOutputs
                ? OpenOutputs(connection, reader.GetString(13), reader.GetFieldValue<byte[]>(0), sealedOutputs)
                : reader.GetString(17))
            : null,
        Explanation = withOutputs && !reader.IsDBNull(18)
            ? JsonSerializer.Deserialize<Explanation>(reader.GetString(18), StoreJson.Options)
            : null,
    };

    private sealed class JobParameters
    {
        private readonly SqliteParameter _id, _kind, _model, _modelVersion, _status, _submittedAt, _startedAt,
            _completedAt, _device, _batchSize, _batchId, _workerId, _error, _tenantId, _callbackUrl, _cached, _outputs, _explanation;

        private readonly SqliteCommand _command;
        private readonly SqliteStore _store;

        public JobParameters(SqliteCommand command, SqliteStore store)
        {
            (_command, _store) = (command, store);
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
            _outputs.Value = job.Outputs is null ? DBNull.Value : _store.SealOutputs(_command, job, JsonSerializer.Serialize(job.Outputs, StoreJson.Options));
            _explanation.Value = job.Explanation is null ? DBNull.Value : JsonSerializer.Serialize(job.Explanation, StoreJson.Options);
        }
    }

    // ---- models ----

    private const string ModelColumns = "name, version, created_at, size_bytes, sha256, inputs, outputs, batching, description, training, recipe, vocabulary IS NOT NULL, background";

    private const string GetVersionSql = $"SELECT {ModelColumns} FROM model_versions WHERE name = $name AND version = $version";
    private const string GetLatestVersionSql = $"SELECT {ModelColumns} FROM model_versions WHERE name = $name ORDER BY version DESC LIMIT 1";
    private const string ListVersionsSql = $"SELECT {ModelColumns} FROM model_versions ORDER BY name, version";
    private const string ListVersionsOfSql = $"SELECT {ModelColumns} FROM model_versions WHERE name = $name ORDER BY version";

    public async Task<ModelVersionRecord> AddVersionAsync(NewModelVersion model, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrWhiteSpace(model.Name);

        await using var connection = await OpenAsync(cancellationToken);
        var fileId = await WriteAsync(connection, (connection, transaction) =>
            ExecuteScalar<long>(connection, transaction, "INSERT INTO model_files (created_at) VALUES ($now) RETURNING id",
                ("$now", _time.GetUtcNow().UtcTicks)), cancellationToken);
        try
        {
            var (size, sha256) = await WriteChunksAsync(connection, fileId, content, cancellationToken);
            var createdAt = JobCursor.FromUtcTicks(_time.GetUtcNow().UtcTicks);

            // BEGIN IMMEDIATE takes the write lock before reading the current maximum, so no other writer, in this
            // process or another, can take the same number; the primary key would refuse it anyway.
            var version = await WriteAsync(connection, (connection, transaction) =>
            {
                if (model.Training is { } training && FindVersionByTrainingJob(connection, transaction, training.TrainingJobId) is { } existing)
                {
                    return -existing;
                }

                var next = ExecuteScalar<long>(connection, transaction,
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = $name", ("$name", model.Name));
                using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = """
                    INSERT INTO model_versions (name, version, created_at, size_bytes, sha256, inputs, outputs, batching, description, file_id, training_job_id, training, recipe, vocabulary, background)
                    VALUES ($name, $version, $created_at, $size_bytes, $sha256, $inputs, $outputs, $batching, $description, $file_id, $training_job_id, $training, $recipe, $vocabulary, $background)
                    """;
                insert.Parameters.AddWithValue("$name", model.Name);
                insert.Parameters.AddWithValue("$version", next);
                insert.Parameters.AddWithValue("$created_at", createdAt.UtcTicks);
                insert.Parameters.AddWithValue("$size_bytes", size);
                insert.Parameters.AddWithValue("$sha256", sha256);
                insert.Parameters.AddWithValue("$inputs", JsonSerializer.Serialize(model.Inputs, StoreJson.Options));
                insert.Parameters.AddWithValue("$outputs", JsonSerializer.Serialize(model.Outputs, StoreJson.Options));
                insert.Parameters.AddWithValue("$batching",
                    model.Batching is null ? DBNull.Value : JsonSerializer.Serialize(model.Batching, StoreJson.Options));
                insert.Parameters.AddWithValue("$description", (object?)model.Description ?? DBNull.Value);
                insert.Parameters.AddWithValue("$file_id", fileId);
                insert.Parameters.AddWithValue("$training_job_id",
                    model.Training is null ? DBNull.Value : JobCursor.GuidBytes(model.Training.TrainingJobId));
                insert.Parameters.AddWithValue("$training",
                    model.Training is null ? DBNull.Value : JsonSerializer.Serialize(model.Training, StoreJson.Options));
                insert.Parameters.AddWithValue("$recipe",
                    model.Recipe is null ? DBNull.Value : JsonSerializer.Serialize(model.Recipe, StoreJson.Options));
                insert.Parameters.AddWithValue("$vocabulary", (object?)model.Vocabulary ?? DBNull.Value);
                insert.Parameters.AddWithValue("$background",
                    model.Background is null ? DBNull.Value : JsonSerializer.Serialize(model.Background, StoreJson.Options));
                insert.ExecuteNonQuery();
                return checked((int)next);
            }, cancellationToken);

            if (version < 0)
            {
                // This training job registered its model before (a retried attempt): keep that version, drop this file.
                await DeleteFileAsync(connection, fileId);
                return await GetVersionAsync(model.Name, -version, cancellationToken)
                    ?? throw new InvalidOperationException($"Model '{model.Name}' version {-version} vanished.");
            }

            return new ModelVersionRecord
            {
                Name = model.Name,
                Version = version,
                CreatedAt = createdAt,
                SizeBytes = size,
                Sha256 = sha256,
                Inputs = model.Inputs,
                Outputs = model.Outputs,
                Batching = model.Batching,
                Description = model.Description,
                Recipe = model.Recipe,
                HasVocabulary = model.Vocabulary is not null,
                Training = model.Training,
                Background = model.Background,
            };
        }
        catch
        {
            await DeleteFileAsync(connection, fileId);
            throw;
        }
    }

    private async Task<(long Size, string Sha256)> WriteChunksAsync(
        SqliteConnection connection, long fileId, Stream content, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            long size = 0;
            for (var seq = 0; ; seq++)
            {
                // Read outside the write gate: a slow upload must not hold up job writes.
                var read = await content.ReadAtLeastAsync(buffer.AsMemory(0, ChunkSize), ChunkSize, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                hash.AppendData(buffer, 0, read);
                size += read;
                var chunkSeq = seq;
                await WriteAsync(connection, (connection, transaction) =>
                {
                    var rowId = ExecuteScalar<long>(connection, transaction,
                        "INSERT INTO model_file_chunks (file_id, seq, data) VALUES ($file_id, $seq, zeroblob($length)) RETURNING rowid",
                        ("$file_id", fileId), ("$seq", chunkSeq), ("$length", read));
                    using var blob = new SqliteBlob(connection, "model_file_chunks", "data", rowId, readOnly: false);
                    blob.Write(buffer, 0, read);
                    return rowId;
                }, cancellationToken);

                if (read < ChunkSize)
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

    private async Task DeleteFileAsync(SqliteConnection connection, long fileId)
    {
        try
        {
            await WriteAsync(connection, (connection, transaction) =>
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

    public async Task<ModelVersionRecord?> GetVersionAsync(string name, int? version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = version is null ? GetLatestVersionSql : GetVersionSql;
        command.Parameters.AddWithValue("$name", name);
        if (version is { } v)
        {
            command.Parameters.AddWithValue("$version", v);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadModel(reader) : null;
    }

    public async Task<IReadOnlyList<ModelVersionRecord>> ListAsync(string? name = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = name is null ? ListVersionsSql : ListVersionsOfSql;
        if (name is not null)
        {
            command.Parameters.AddWithValue("$name", name);
        }

        var versions = new List<ModelVersionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(ReadModel(reader));
        }

        return versions;
    }

    public async Task<string?> GetVocabularyAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT vocabulary FROM model_versions WHERE name = $name AND version = $version";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$version", version);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task CopyFileToAsync(string name, int version, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(destination);

        await using var connection = await OpenAsync(cancellationToken);
        List<long> chunkRowIds;
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                SELECT c.rowid
                FROM model_versions v LEFT JOIN model_file_chunks c ON c.file_id = v.file_id
                WHERE v.name = $name AND v.version = $version
                ORDER BY c.seq
                """;
            command.Parameters.AddWithValue("$name", name);
            command.Parameters.AddWithValue("$version", version);
            chunkRowIds = await ReadBlobRowIdsAsync(command, cancellationToken)
                ?? throw new KeyNotFoundException($"Model '{name}' has no version {version}.");
        }

        // Registered files are immutable, so the chunks can be read one by one without holding a snapshot.
        await CopyChunksAsync(connection, chunkRowIds, destination, cancellationToken);
    }

    /// <summary>Reads the row ids of a left join from an owner row to its blob rows: null when the owner is missing, else
    /// its blob rows in the query's order (none for an owner without any).</summary>
    private static async Task<List<long>?> ReadBlobRowIdsAsync(SqliteCommand command, CancellationToken cancellationToken)
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

    private static Task CopyChunksAsync(SqliteConnection connection, IEnumerable<long> chunkRowIds, Stream destination,
        CancellationToken cancellationToken) =>
        CopyBlobsAsync(connection, "model_file_chunks", "data", chunkRowIds, destination, cancellationToken);

    /// <summary>Streams the blobs of <paramref name="column"/> in the given rows, in order, to <paramref name="destination"/>
    /// through one pooled buffer.</summary>
    private static async Task CopyBlobsAsync(SqliteConnection connection, string table, string column, IEnumerable<long> rowIds,
        Stream destination, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            foreach (var rowId in rowIds)
            {
                using var blob = new SqliteBlob(connection, table, column, rowId, readOnly: true);
                int read;
                while ((read = blob.Read(buffer, 0, ChunkSize)) > 0)
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

    private static ModelVersionRecord ReadModel(SqliteDataReader reader) => new()
    {
        Name = reader.GetString(0),
        Version = reader.GetInt32(1),
        CreatedAt = JobCursor.FromUtcTicks(reader.GetInt64(2)),
        SizeBytes = reader.GetInt64(3),
        Sha256 = reader.GetString(4),
        Inputs = JsonSerializer.Deserialize<List<TensorSpec>>(reader.GetString(5), StoreJson.Options) ?? [],
        Outputs = JsonSerializer.Deserialize<List<TensorSpec>>(reader.GetString(6), StoreJson.Options) ?? [],
        Batching = reader.IsDBNull(7) ? null : JsonSerializer.Deserialize<BatchingSettings>(reader.GetString(7), StoreJson.Options),
        Description = reader.IsDBNull(8) ? null : reader.GetString(8),
        Training = reader.IsDBNull(9) ? null : JsonSerializer.Deserialize<ModelTrainingInfo>(reader.GetString(9), StoreJson.Options),
        Recipe = reader.IsDBNull(10) ? null : JsonSerializer.Deserialize<ModelRecipe>(reader.GetString(10), StoreJson.Options),
        HasVocabulary = reader.GetBoolean(11),
        Background = reader.IsDBNull(12) ? null : JsonSerializer.Deserialize<ExplanationBackground>(reader.GetString(12), StoreJson.Options),
    };

    // ---- health ----

    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        await command.ExecuteScalarAsync(cancellationToken);
    }

    // ---- plumbing ----

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

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
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
                CheckMasterKey(connection, transaction);
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
    private async Task<T> WriteAsync<T>(
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

    private Task WriteAsync(SqliteConnection connection, Action<SqliteConnection, SqliteTransaction> work, CancellationToken cancellationToken) =>
        WriteAsync(connection, (c, t) =>
        {
            work(c, t);
            return true;
        }, cancellationToken);

    private static T ExecuteScalar<T>(
        SqliteConnection connection, SqliteTransaction transaction, string sql, params ReadOnlySpan<(string Name, object Value)> parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

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
