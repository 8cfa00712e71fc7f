using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;

namespace AIaaS.Queue.Store;

// Webhook deliveries: one row per event, its attempts as a JSON array in the row (a handful at most).
public sealed class SqliteWebhookStore(SqliteDatabase database) : IWebhookStore
{
    private const string WebhookColumns = "id, job_id, event_type, url, payload, created_at, next_attempt_at, state, attempts, tenant_id";

    public async Task ScheduleWebhooksAsync(IReadOnlyCollection<WebhookDelivery> deliveries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deliveries);
        if (deliveries.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"""
                INSERT OR IGNORE INTO webhook_deliveries ({WebhookColumns})
                VALUES ($id, $job_id, $event_type, $url, $payload, $created_at, $next_attempt_at, $state, $attempts, $tenant_id)
                """;
            foreach (var delivery in deliveries)
            {
                command.Parameters.Clear();
                command.Parameters.AddWithValue("$id", delivery.Id);
                command.Parameters.AddWithValue("$job_id", JobCursor.GuidBytes(delivery.JobId));
                command.Parameters.AddWithValue("$event_type", delivery.EventType);
                command.Parameters.AddWithValue("$url", delivery.Url);
                command.Parameters.AddWithValue("$payload", delivery.TenantId is { } tenant && database.Keys.Enabled
                    ? database.Keys.Seal(connection, transaction, tenant, Place(delivery.Id), Encoding.UTF8.GetBytes(delivery.Payload))
                    : delivery.Payload);
                command.Parameters.AddWithValue("$tenant_id", (object?)delivery.TenantId ?? DBNull.Value);
                command.Parameters.AddWithValue("$created_at", delivery.CreatedAt.UtcTicks);
                command.Parameters.AddWithValue("$next_attempt_at", delivery.NextAttemptAt.UtcTicks);
                command.Parameters.AddWithValue("$state", delivery.State.ToString());
                command.Parameters.AddWithValue("$attempts", JsonSerializer.Serialize(delivery.Attempts, StoreJson.Options));
                command.ExecuteNonQuery();
            }
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ClaimDueWebhooksAsync(DateTimeOffset now, TimeSpan lease, int limit,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"""
                UPDATE webhook_deliveries SET next_attempt_at = $until
                WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'Pending' AND next_attempt_at <= $now
                             ORDER BY next_attempt_at LIMIT $limit)
                RETURNING {WebhookColumns}
                """;
            command.Parameters.AddWithValue("$until", (now + lease).UtcTicks);
            command.Parameters.AddWithValue("$now", now.UtcTicks);
            command.Parameters.AddWithValue("$limit", limit);
            return ReadWebhooks(connection, command);
        }, cancellationToken);
    }

    public async Task RecordWebhookAttemptAsync(string deliveryId, WebhookAttemptView attempt, WebhookDeliveryState state,
        DateTimeOffset nextAttemptAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                UPDATE webhook_deliveries
                SET attempts = json_insert(attempts, '$[#]', json($attempt)), state = $state, next_attempt_at = $next_attempt_at
                WHERE id = $id
                """;
            command.Parameters.AddWithValue("$id", deliveryId);
            command.Parameters.AddWithValue("$attempt", JsonSerializer.Serialize(attempt, StoreJson.Options));
            command.Parameters.AddWithValue("$state", state.ToString());
            command.Parameters.AddWithValue("$next_attempt_at", nextAttemptAt.UtcTicks);
            command.ExecuteNonQuery();
        }, cancellationToken);
    }

    public async Task<IReadOnlyList<WebhookDelivery>> ListWebhooksAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {WebhookColumns} FROM webhook_deliveries WHERE tenant_id = $tenant_id AND job_id = $job_id ORDER BY created_at, id";
        command.Parameters.AddWithValue("$tenant_id", tenantId);
        command.Parameters.AddWithValue("$job_id", JobCursor.GuidBytes(jobId));
        return ReadWebhooks(connection, command);
    }

    public async Task<DateTimeOffset?> NextWebhookDueAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'Pending'";
        return await command.ExecuteScalarAsync(cancellationToken) is long ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
    }

    // A sealed payload is bound to its delivery: copied onto another, it does not open.
    private static string Place(string deliveryId) => "webhook:" + deliveryId;

    private List<WebhookDelivery> ReadWebhooks(SqliteConnection connection, SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var found = new List<WebhookDelivery>();
        while (reader.Read())
        {
            found.Add(new WebhookDelivery
            {
                Id = reader.GetString(0),
                JobId = new Guid((byte[])reader.GetValue(1), bigEndian: true),
                EventType = reader.GetString(2),
                Url = reader.GetString(3),
                TenantId = reader.IsDBNull(9) ? null : reader.GetString(9),
                Payload = reader.GetValue(4) is byte[] sealedPayload
                    ? Encoding.UTF8.GetString(database.Keys.Open(connection, reader.GetString(9), Place(reader.GetString(0)), sealedPayload, command.Transaction))
                    : reader.GetString(4),
                CreatedAt = new DateTimeOffset(reader.GetInt64(5), TimeSpan.Zero),
                NextAttemptAt = new DateTimeOffset(reader.GetInt64(6), TimeSpan.Zero),
                State = Enum.Parse<WebhookDeliveryState>(reader.GetString(7)),
                Attempts = JsonSerializer.Deserialize<List<WebhookAttemptView>>(reader.GetString(8), StoreJson.Options) ?? [],
            });
        }

        return found;
    }
}
