using AIaaS.Queue.Contracts;
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

            using var store = new SqliteStore(path);
            var old = await store.GetVersionAsync("old", 1, ct);
            Assert.Equal("from before", old!.Description);
            Assert.Null(old.Training);

            var jobId = Guid.NewGuid();
            var added = await store.AddVersionAsync(new NewModelVersion
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
            Assert.Equal(2, (await store.GetVersionByTrainingJobAsync(jobId, ct))!.Version);
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

            using var store = new SqliteStore(path);
            Assert.Equal(Tenants.DefaultTenantId, (await store.GetAsync(jobId, ct))!.TenantId);
            Assert.Equal([jobId], (await store.ListAsync(new JobQuery { TenantId = Tenants.DefaultTenantId }, ct)).Items.Select(j => j.JobId));
            Assert.NotNull(await store.GetDatasetAsync(Tenants.DefaultTenantId, "old-data", ct));
            Assert.Null(await store.GetDatasetAsync("acme", "old-data", ct));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }
}
