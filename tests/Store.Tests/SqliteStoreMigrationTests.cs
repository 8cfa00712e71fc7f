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
}
