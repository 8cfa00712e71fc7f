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
            Assert.Equal(2, (await store.Models.GetVersionByTrainingJobAsync(jobId, ct))!.Version);
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
            Assert.Equal(Tenants.DefaultTenantId, (await store.Jobs.GetAsync(jobId, ct))!.TenantId);
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
                    Assert.Equal(Tenants.DefaultTenantId, (await store.Jobs.GetAsync(jobId, ct))!.TenantId);
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
                Assert.Empty(await store.Webhooks.ListWebhooksAsync(jobId, ct));
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
