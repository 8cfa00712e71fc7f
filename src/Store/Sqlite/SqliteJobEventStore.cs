using System.Text.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;
using static AIaaS.Queue.Store.SqliteCommands;

namespace AIaaS.Queue.Store;

/// <summary>The embedded store's job events: one row per event in "job_events", keyed by job and sequence number.</summary>
public sealed class SqliteJobEventStore(SqliteDatabase database) : IJobEventStore
{
    public async Task AppendJobEventsAsync(string tenantId, Guid jobId, IReadOnlyList<JobEventView> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) => Append(connection, transaction, tenantId, jobId, events), cancellationToken);
    }

    /// <summary>Appends inside the caller's write transaction, so that a train job's state change and its events land together.</summary>
    internal static void Append(SqliteConnection connection, SqliteTransaction transaction, string tenantId, Guid jobId, IReadOnlyList<JobEventView> events)
    {
        var last = ExecuteScalar<long>(connection, transaction, "SELECT COALESCE(MAX(seq), 0) FROM job_events WHERE tenant_id = $tenant_id AND job_id = $id",
            ("$tenant_id", tenantId), ("$id", JobCursor.GuidBytes(jobId)));
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = "INSERT INTO job_events (tenant_id, job_id, seq, body) VALUES ($tenant_id, $id, $seq, $body)";
        insert.Parameters.AddWithValue("$tenant_id", tenantId);
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

    public async Task<IReadOnlyList<JobEventView>> ListJobEventsAsync(string tenantId, Guid jobId, long afterSequence = 0, int limit = 1000,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM job_events WHERE tenant_id = $tenant_id AND job_id = $id AND seq > $after ORDER BY seq LIMIT $limit";
        command.Parameters.AddWithValue("$tenant_id", tenantId);
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
}
