namespace AIaaS.Queue.Store.Tests;

public sealed class SqliteStoreContractTests(SqliteStoreFixture fixture)
    : StoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override IJobStore Jobs => fixture.Store;
    protected override IModelStore Models => fixture.Store;
    protected override IStoreHealth Health => fixture.Store;

    [Fact]
    public async Task TheFileAndItsDirectoryAreCreatedOnFirstUseInWalMode()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"aiaas-store-{Guid.NewGuid():N}");
        var path = Path.Combine(directory, "nested", "jobs.db");
        try
        {
            using (var store = new SqliteStore(path))
            {
                Assert.False(Directory.Exists(directory));
                await store.PingAsync(Ct);
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
        await fixture.Store.PingAsync(ct); // creates the schema
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={fixture.Store.DatabasePath};Pooling=False");
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + SqliteStore.CountJobsSql;
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

public sealed class SqliteBulkStoreContractTests(SqliteStoreFixture fixture)
    : BulkStoreContractTests, IClassFixture<SqliteStoreFixture>
{
    protected override IBulkStore Bulk => fixture.Store;
}

/// <summary>One database file per test class, in its own temporary directory, deleted afterwards.</summary>
public sealed class SqliteStoreFixture : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"aiaas-store-tests-{Guid.NewGuid():N}");

    public SqliteStoreFixture() => Store = new SqliteStore(Path.Combine(_directory, "store.db"));

    public SqliteStore Store { get; }

    public void Dispose()
    {
        Store.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
