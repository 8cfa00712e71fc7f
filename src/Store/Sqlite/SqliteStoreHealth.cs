namespace AIaaS.Queue.Store;

/// <summary>Answers when the embedded store's file opens and reads (and its schema is up to date).</summary>
public sealed class SqliteStoreHealth(SqliteDatabase database) : IStoreHealth
{
    public async Task PingAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        await command.ExecuteScalarAsync(cancellationToken);
    }
}
