namespace AIaaS.Queue.Store.Tests;

public sealed class SqliteJobStoreContractTests(SqliteStoreFixture fixture) : JobStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteStoreHealthContractTests(SqliteStoreFixture fixture) : StoreHealthContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteModelStoreContractTests(SqliteStoreFixture fixture) : ModelStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteTrainingQueueContractTests(SqliteStoreFixture fixture) : TrainingQueueContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteJobEventStoreContractTests(SqliteStoreFixture fixture) : JobEventStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteDatasetStoreContractTests(SqliteStoreFixture fixture) : DatasetStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteBulkStoreContractTests(SqliteStoreFixture fixture) : BulkStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteTenantStoreContractTests(SqliteStoreFixture fixture) : TenantStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteWebhookStoreContractTests(SqliteStoreFixture fixture) : WebhookStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteRetentionStoreContractTests(SqliteStoreFixture fixture) : RetentionStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override StoreServices Store => fixture.Store;
}

public sealed class SqliteStoreFileTests : TimeLimitedTests
{
    [Fact]
    public async Task TheFileAndItsDirectoryAreCreatedOnFirstUseInWalMode()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"aiaas-store-{Guid.NewGuid():N}");
        var path = Path.Combine(directory, "nested", "jobs.db");
        try
        {
            using (var store = StoreServices.Embedded(path))
            {
                Assert.False(Directory.Exists(directory));
                await store.Health.PingAsync(Ct);
            }

            Assert.True(File.Exists(path));
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
            await connection.OpenAsync(Ct);
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode";
            Assert.Equal("wal", (string?)await command.ExecuteScalarAsync(Ct));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

public sealed class SqliteAdmissionCountTests(SqliteStoreFixture fixture) : IClassFixture<SqliteStoreFixture>
{
    [Fact]
    public async Task CountingAModelsQueuedJobsReadsOnlyTheModelAndStatusRangeOfAnIndex()
    {
        var ct = TestContext.Current.CancellationToken;
        await fixture.Store.Health.PingAsync(ct); // creates the schema
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={fixture.DatabasePath};Pooling=False");
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + SqliteJobStore.CountJobsSql;
        command.Parameters.AddWithValue("$model", "m");
        command.Parameters.AddWithValue("$status", "Queued");
        command.Parameters.AddWithValue("$limit", 500);
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                plan.Add(reader.GetString(3));
            }
        }

        // Not a walk over the model's jobs (ix_jobs_model) nor over every queued job (ix_jobs_status), nor a table read.
        Assert.Contains("SEARCH jobs USING COVERING INDEX ix_jobs_model_status (model=? AND status=?)", plan);
    }
}

/// <summary>One database file per test class, in its own temporary directory, deleted afterwards; the store's concerns over it
/// come from the real registration.</summary>
public sealed class SqliteStoreFixture : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"aiaas-store-tests-{Guid.NewGuid():N}");

    public SqliteStoreFixture() => Store = StoreServices.Embedded(Path.Combine(_directory, "store.db"));

    public StoreServices Store { get; }

    public string DatabasePath => Store.Get<SqliteDatabase>().DatabasePath;

    public void Dispose()
    {
        Store.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

public sealed class SqliteRetentionSpaceTests : TimeLimitedTests
{
    [Fact]
    public async Task ANewFileGivesSweptSpaceBackInSmallSteps()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"aiaas-store-{Guid.NewGuid():N}");
        var path = Path.Combine(directory, "store.db");
        try
        {
            using var store = StoreServices.Embedded(path);
            var completed = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var big = Enumerable.Range(0, 4096).Select(i => (float)i).ToArray();
            var jobs = Enumerable.Range(0, 200).Select(_ => TestJobs.Succeeded("t", [TestTensors.Fp32("y", [1, big.Length], big)], completed)).ToArray();
            await store.Jobs.UpsertAsync(jobs, Ct);
            var before = await store.Retention.GetSizeAsync(Ct);

            SweepBatch batch;
            do
            {
                batch = await store.Retention.ExpireJobPayloadsAsync("t", Contracts.JobKind.Predict, completed.AddDays(1), completed.AddDays(2), 50, Ct);
            }
            while (batch.Count > 0);

            var swept = await store.Retention.GetSizeAsync(Ct);
            var reclaimed = await store.Retention.ReclaimSpaceAsync(long.MaxValue, Ct);
            var after = await store.Retention.GetSizeAsync(Ct);

            Assert.True(before.Reclaims, before.Note);
            Assert.True(swept.FreeBytes > 3_000_000, $"freed {swept.FreeBytes} bytes of {before.TotalBytes}");
            Assert.Equal(swept.FreeBytes, reclaimed);
            Assert.True(after.TotalBytes < before.TotalBytes / 4, $"{before.TotalBytes} -> {after.TotalBytes} bytes");
            Assert.Equal(0, after.FreeBytes);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task EachRetentionSweepReadsARangeOfItsPartialIndex()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"aiaas-store-{Guid.NewGuid():N}");
        try
        {
            using var store = StoreServices.Embedded(Path.Combine(directory, "store.db"));

            // INDEXED BY makes SQLite refuse a statement that cannot use the index, so each sweep kind passing proves its plan.
            await store.Retention.ExpireJobPayloadsAsync("t", Contracts.JobKind.Predict, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 10, Ct);
            await store.Retention.DeleteJobRecordsAsync("t", Contracts.JobKind.Predict, DateTimeOffset.UtcNow, 10, Ct);
            await store.Retention.ExpireDatasetsAsync("t", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 10, Ct);
            await store.Retention.ExpireBulkOutputsAsync("t", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, 10, Ct);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
