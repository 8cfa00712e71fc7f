using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store.Tests;

public sealed class SqliteStoreMigrationTests
{
    [Fact]
    public async Task AStoreFileFromBeforeTrainJobsKeepsItsModelsAndGainsTheTrainingColumns()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("aiaas-migration-");
        var path = Path.Combine(directory.FullName, "old.db");
        try
        {
            // The model_versions table as the first release created it, with one version in it.
            await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                await connection.OpenAsync(ct);
                await using var command = connection.CreateCommand();
                command.CommandText = """
                    CREATE TABLE model_versions (name TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL,
                        size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, inputs TEXT NOT NULL, outputs TEXT NOT NULL,
                        batching TEXT NULL, description TEXT NULL, file_id INTEGER NOT NULL, PRIMARY KEY (name, version));
                    INSERT INTO model_versions VALUES ('old', 1, 0, 0, '', '[]', '[]', NULL, 'from before', 1);
                    """;
                await command.ExecuteNonQueryAsync(ct);
            }

            using var store = StoreServices.Embedded(path);
            var old = await store.Models.GetVersionAsync("old", 1, ct);
            Assert.Equal("from before", old!.Description);
            Assert.Null(old.Training);

            var jobId = Guid.NewGuid();
            var added = await store.Models.AddVersionAsync(new NewModelVersion
            {
                Name = "old",
                Inputs = [],
                Outputs = [],
                Training = new ModelTrainingInfo
                {
                    TrainingJobId = jobId,
                    DatasetFingerprint = "sha256:00",
                    Task = TrainingTask.Regression,
                    LabelColumn = "y",
                    FeatureColumns = ["x"],
                    Architecture = new TrainingArchitecture(),
                    Hyperparameters = new TrainingHyperparameters(),
                    Metrics = new Dictionary<string, double> { ["val_rmse"] = 0.5 },
                    Device = "cpu",
                },
            }, new MemoryStream([1]), ct);
            Assert.Equal(2, added.Version);
            Assert.Equal(2, (await store.Models.GetVersionByTrainingJobAsync("old", jobId, ct))!.Version);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task JobsAndDataFilesFromBeforeTenantsBelongToTheDefaultTenant()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("aiaas-migration-");
        var path = Path.Combine(directory.FullName, "old.db");
        var jobId = Guid.NewGuid();
        try
        {
            // The jobs and datasets tables as the release before tenants created them, with a row in each.
            await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                await connection.OpenAsync(ct);
                await using var command = connection.CreateCommand();
                command.CommandText = """
                    CREATE TABLE jobs (id BLOB NOT NULL PRIMARY KEY, kind TEXT NOT NULL, model TEXT NOT NULL, model_version INTEGER NULL,
                        status TEXT NOT NULL, submitted_at INTEGER NOT NULL, started_at INTEGER NULL, completed_at INTEGER NULL,
                        device TEXT NULL, batch_size INTEGER NULL, batch_id TEXT NULL, worker_id TEXT NULL, error TEXT NULL, outputs TEXT NULL);
                    INSERT INTO jobs (id, kind, model, status, submitted_at) VALUES ($id, 'Predict', 'iris', 'Queued', 0);
                    CREATE TABLE datasets (id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL,
                        size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, file_id INTEGER NOT NULL);
                    INSERT INTO datasets VALUES ('old-data', 'data.csv', 0, 0, '', 1);
                    """;
                command.Parameters.AddWithValue("$id", jobId.ToByteArray(bigEndian: true));
                await command.ExecuteNonQueryAsync(ct);
            }

            using var store = StoreServices.Embedded(path);
            Assert.Equal(Tenants.DefaultTenantId, (await store.Jobs.GetAsync(Tenants.DefaultTenantId, jobId, ct))!.TenantId);
            Assert.Equal([jobId], (await store.Jobs.ListAsync(new JobQuery { TenantId = Tenants.DefaultTenantId }, ct)).Items.Select(j => j.JobId));
            Assert.NotNull(await store.Datasets.GetDatasetAsync(Tenants.DefaultTenantId, "old-data", ct));
            Assert.Null(await store.Datasets.GetDatasetAsync("acme", "old-data", ct));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    public static TheoryData<int> OlderVersions => [.. Enumerable.Range(0, SqliteSchema.LatestVersion)];

    [Theory]
    [MemberData(nameof(OlderVersions))]
    public async Task AStoreFileAtEachOlderSchemaVersionUpgradesToTheLatestKeepingItsRows(int version)
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("aiaas-migration-");
        var path = Path.Combine(directory.FullName, "old.db");
        var jobId = Guid.NewGuid();
        var bulkId = Guid.NewGuid();
        try
        {
            // A file at that version, with a row in each table it has that later versions change.
            await using (var connection = await OpenAsync(path, ct))
            {
                using var transaction = connection.BeginTransaction();
                SqliteSchema.Upgrade(connection, transaction, version);
                Execute(connection, transaction, version >= 1 ? """
                    INSERT INTO jobs (id, kind, model, status, submitted_at) VALUES ($job, 'Predict', 'iris', 'Queued', 0);
                    INSERT INTO model_versions (name, version, created_at, size_bytes, sha256, inputs, outputs, description, file_id)
                        VALUES ('old', 1, 0, 0, '', '[]', '[]', 'from before', 1);
                    """ : "", ("$job", jobId.ToByteArray(bigEndian: true)));
                Execute(connection, transaction, version >= 2
                    ? "INSERT INTO datasets (id, name, created_at, size_bytes, sha256, file_id) VALUES ('old-data', 'data.csv', 0, 0, '', 1)"
                    : "");
                Execute(connection, transaction, version >= 4
                    ? "INSERT INTO bulk_jobs (id, model, status, input_file_id, submitted_at) VALUES ($bulk, 'iris', 'Running', 'old-data', 0)"
                    : "", ("$bulk", bulkId.ToByteArray(bigEndian: true)));
                transaction.Commit();
                Assert.Equal(version, SqliteSchema.ReadVersion(connection, null));
            }

            using (var store = StoreServices.Embedded(path))
            {
                await store.Health.PingAsync(ct);
                if (version >= 1)
                {
                    Assert.Equal(Tenants.DefaultTenantId, (await store.Jobs.GetAsync(Tenants.DefaultTenantId, jobId, ct))!.TenantId);
                    Assert.Equal("from before", (await store.Models.GetVersionAsync("old", 1, ct))!.Description);
                }

                if (version >= 2)
                {
                    Assert.NotNull(await store.Datasets.GetDatasetAsync(Tenants.DefaultTenantId, "old-data", ct));
                }

                if (version >= 4)
                {
                    Assert.Equal([bulkId], (await store.Bulk.ListBulkJobsAsync(Tenants.DefaultTenantId, 10, ct)).Select(b => b.BulkJobId));
                }

                Assert.True(await store.Tenants.CreateTenantAsync(new TenantRecord { Id = "acme", CreatedAt = DateTimeOffset.UnixEpoch }, ct));
                Assert.Empty(await store.Webhooks.ListWebhooksAsync(Tenants.DefaultTenantId, jobId, ct));
            }

            Assert.Equal(await DescribeSchemaAsync(path, ct), await DescribeNewFileSchemaAsync(directory, ct));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task AFileFromTheLastReleaseBeforeSchemaVersionsIsTakenAsTheLatestVersion()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("aiaas-migration-");
        var path = Path.Combine(directory.FullName, "old.db");
        try
        {
            // That release made the tables of schema version 7 (the last step it had), but wrote no version.
            await using (var connection = await OpenAsync(path, ct))
            {
                using var transaction = connection.BeginTransaction();
                SqliteSchema.Upgrade(connection, transaction, targetVersion: 7);
                Execute(connection, transaction, "PRAGMA user_version = 0");
                transaction.Commit();
            }

            using (var store = StoreServices.Embedded(path))
            {
                Assert.True(await store.Tenants.CreateTenantAsync(new TenantRecord { Id = "acme", CreatedAt = DateTimeOffset.UnixEpoch }, ct));
            }

            Assert.Equal(await DescribeNewFileSchemaAsync(directory, ct), await DescribeSchemaAsync(path, ct));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Migration14KeysRowsByTenantAndKeepsSealedValuesReadableThenAnotherTenantMayUseTheSameIds()
    {
        // Ids became unique per tenant in schema version 14: the job tables were rebuilt with keys that start with the tenant.
        // A version-13 file of tenant acme, encrypted: a predict job with sealed outputs, a bulk job with sealed chunks, a
        // train job with a sealed request and an event, and a webhook delivery scheduled before deliveries named a tenant.
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("aiaas-migration-");
        var path = Path.Combine(directory.FullName, "v13.db");
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var jobId = Guid.NewGuid();
        var bulkId = Guid.NewGuid();
        var trainId = Guid.NewGuid();
        var train = new SubmitTrainJob
        {
            JobId = trainId,
            Model = "acme/t",
            Dataset = new TrainingDataset { Columns = ["x", "y"], Rows = [["1", "2"]] },
            LabelColumn = "y",
            SubmittedAt = DateTimeOffset.UnixEpoch,
            Sender = new TenantCredentials { TenantId = "acme" },
        };
        try
        {
            await using (var connection = await OpenAsync(path, ct))
            {
                using var transaction = connection.BeginTransaction();
                SqliteSchema.Upgrade(connection, transaction, 13);
                var keys = new SqliteKeyRing(new LocalMasterKeys(key), TimeProvider.System);
                using (var command = connection.CreateCommand())
                {
                    command.Transaction = transaction;
                    var job = TestJobs.Succeeded("acme", [TestTensors.Fp32("y", [1], [7])]) with { JobId = jobId };
                    command.CommandText = """
                        INSERT INTO jobs (id, tenant_id, kind, model, status, submitted_at, completed_at, outputs)
                        VALUES ($id, 'acme', 'Predict', 'acme/m', 'Succeeded', 1, 2, $outputs)
                        """;
                    command.Parameters.AddWithValue("$id", jobId.ToByteArray(bigEndian: true));
                    command.Parameters.AddWithValue("$outputs", keys.SealJobPayload(command, job, SqliteKeyRing.Outputs,
                        System.Text.Json.JsonSerializer.Serialize(job.Outputs, StoreJson.Options)));
                    command.ExecuteNonQuery();
                }

                Execute(connection, transaction, """
                    INSERT INTO jobs (id, tenant_id, kind, model, status, submitted_at) VALUES ($train, 'acme', 'Train', 'acme/t', 'Queued', 1);
                    INSERT INTO train_jobs (id, request, queued_at, state) VALUES ($train, $request, 1, 'Queued');
                    INSERT INTO job_events (job_id, seq, body) VALUES ($train, 1, $event);
                    INSERT INTO bulk_jobs (id, tenant_id, model, status, input_file_id, submitted_at, total) VALUES ($bulk, 'acme', 'acme/m', 'Running', 'f', 1, 1);
                    INSERT INTO bulk_chunk_inputs (bulk_id, chunk_index, records, payload, sealed) VALUES ($bulk, 0, 1, $input, 1);
                    INSERT INTO bulk_chunk_results (bulk_id, chunk_index, succeeded, failed, skipped, output, errors, sealed)
                        VALUES ($bulk, 0, 1, 0, 0, $output, x'', 1);
                    INSERT INTO webhook_deliveries (id, job_id, event_type, url, payload, created_at, next_attempt_at, state, attempts)
                        VALUES ('msg_old', $id, 'job.succeeded', 'https://example.test/', '{}', 1, 1, 'Delivered', '[]');
                    """,
                    ("$id", jobId.ToByteArray(bigEndian: true)), ("$train", trainId.ToByteArray(bigEndian: true)),
                    ("$bulk", bulkId.ToByteArray(bigEndian: true)),
                    ("$event", System.Text.Json.JsonSerializer.Serialize(new JobEventView { Sequence = 1, Type = "queued", At = DateTimeOffset.UnixEpoch }, StoreJson.Options)),
                    ("$request", keys.Seal(connection, transaction, "acme", $"train-request:{trainId:N}",
                        System.Text.Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(train, StoreJson.Options)))),
                    ("$input", keys.Seal(connection, transaction, "acme", $"bulk-input:{bulkId:N}:0", "input line\n"u8)),
                    ("$output", keys.Seal(connection, transaction, "acme", $"bulk-output:{bulkId:N}:0", "output line\n"u8)));
                transaction.Commit();
            }

            using var store = StoreServices.Embedded(path, key);
            Assert.Equal(7, (await store.Jobs.GetAsync("acme", jobId, ct))!.Outputs![0].Data[0].GetSingle());
            Assert.Equal(train.Dataset.Rows, (await store.TrainingQueue.GetTrainRequestAsync("acme", trainId, ct))!.Dataset.Rows);
            Assert.Equal(["queued"], (await store.Events.ListJobEventsAsync("acme", trainId, 0, 10, ct)).Select(e => e.Type));
            Assert.Equal("input line\n"u8.ToArray(), await store.Bulk.GetBulkChunkInputAsync("acme", bulkId, 0, ct));
            using (var output = new MemoryStream())
            {
                await store.Bulk.CopyBulkResultsToAsync("acme", bulkId, BulkResultKind.Output, output, ct);
                Assert.Equal("output line\n"u8.ToArray(), output.ToArray());
            }

            var delivery = Assert.Single(await store.Webhooks.ListWebhooksAsync("acme", jobId, ct));
            Assert.Equal(("msg_old", "acme"), (delivery.Id, delivery.TenantId));
            var claim = await store.TrainingQueue.ClaimTrainJobAsync("w1", TimeSpan.FromMinutes(1), 3, cancellationToken: ct);
            Assert.Equal(trainId, claim!.Request.JobId);

            // Another tenant now holds a job and a bulk job under the same ids, beside acme's.
            var globex = TestJobs.Succeeded("globex", [TestTensors.Fp32("y", [1], [8])]) with { JobId = jobId };
            await store.Jobs.UpsertAsync([globex], ct);
            Assert.True(await store.Bulk.CreateBulkJobAsync(new BulkJobRecord
            {
                BulkJobId = bulkId, TenantId = "globex", Model = "globex/m", Status = BulkJobStatus.Validating, InputFileId = "g", SubmittedAt = DateTimeOffset.UtcNow,
            }, ct));
            Assert.Equal(8, (await store.Jobs.GetAsync("globex", jobId, ct))!.Outputs![0].Data[0].GetSingle());
            Assert.Equal(7, (await store.Jobs.GetAsync("acme", jobId, ct))!.Outputs![0].Data[0].GetSingle());
            Assert.Equal(1, (await store.Bulk.GetBulkJobAsync("acme", bulkId, ct))!.Total);
            Assert.Equal(0, (await store.Bulk.GetBulkJobAsync("globex", bulkId, ct))!.Total);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task AFileFromANewerReleaseIsRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("aiaas-migration-");
        var path = Path.Combine(directory.FullName, "new.db");
        try
        {
            await using (var connection = await OpenAsync(path, ct))
            {
                using var transaction = connection.BeginTransaction();
                Execute(connection, transaction, $"PRAGMA user_version = {SqliteSchema.LatestVersion + 1}");
                transaction.Commit();
            }

            using var store = StoreServices.Embedded(path);
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.Health.PingAsync(ct));
            Assert.Contains("newer than this build", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    private static async Task<SqliteConnection> OpenAsync(string path, CancellationToken ct)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync(ct);
        return connection;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, params (string Name, object Value)[] parameters)
    {
        if (sql.Length == 0)
        {
            return;
        }

        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }

    /// <summary>Every table and index with its SQL, and the version: what a new file of this build has.</summary>
    private static async Task<string> DescribeNewFileSchemaAsync(DirectoryInfo directory, CancellationToken ct)
    {
        var path = Path.Combine(directory.FullName, $"new-{Guid.NewGuid():N}.db");
        using (var store = StoreServices.Embedded(path))
        {
            await store.Health.PingAsync(ct);
        }

        return await DescribeSchemaAsync(path, ct);
    }

    private static async Task<string> DescribeSchemaAsync(string path, CancellationToken ct)
    {
        SqliteConnection.ClearAllPools();
        await using var connection = await OpenAsync(path, ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name";
        var lines = new List<string> { $"version {SqliteSchema.ReadVersion(connection, null)}" };
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            lines.Add(reader.GetString(0));
        }

        return string.Join('\n', lines);
    }
}
