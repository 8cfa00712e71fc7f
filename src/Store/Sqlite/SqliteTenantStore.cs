namespace AIaaS.Queue.Store;

// Tenants and API keys (hashes only), and the tenant column of jobs and data files.
public sealed class SqliteTenantStore(SqliteDatabase database) : ITenantStore
{
    private const string ApiKeyColumns = "key_id, tenant_id, sha256, name, created_at, revoked_at";

    public async Task<bool> CreateTenantAsync(TenantRecord tenant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT OR IGNORE INTO tenants (id, name, created_at) VALUES ($id, $name, $created_at)";
            insert.Parameters.AddWithValue("$id", tenant.Id);
            insert.Parameters.AddWithValue("$name", (object?)tenant.Name ?? DBNull.Value);
            insert.Parameters.AddWithValue("$created_at", tenant.CreatedAt.UtcTicks);
            return insert.ExecuteNonQuery() == 1;
        }, cancellationToken);
    }

    public async Task<TenantRecord?> GetTenantAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        var tenants = await ReadTenantsAsync("SELECT id, name, created_at FROM tenants WHERE id = $id", tenantId, cancellationToken);
        return tenants.Count == 0 ? null : tenants[0];
    }

    public Task<IReadOnlyList<TenantRecord>> ListTenantsAsync(CancellationToken cancellationToken = default) =>
        ReadTenantsAsync("SELECT id, name, created_at FROM tenants ORDER BY id", null, cancellationToken);

    private async Task<IReadOnlyList<TenantRecord>> ReadTenantsAsync(string sql, string? id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (id is not null)
        {
            command.Parameters.AddWithValue("$id", id);
        }

        var tenants = new List<TenantRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            tenants.Add(new TenantRecord
            {
                Id = reader.GetString(0),
                Name = reader.IsDBNull(1) ? null : reader.GetString(1),
                CreatedAt = JobCursor.FromUtcTicks(reader.GetInt64(2)),
            });
        }

        return tenants;
    }

    public async Task AddApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = $"INSERT INTO api_keys ({ApiKeyColumns}) VALUES ($key_id, $tenant_id, $sha256, $name, $created_at, NULL)";
            insert.Parameters.AddWithValue("$key_id", key.KeyId);
            insert.Parameters.AddWithValue("$tenant_id", key.TenantId);
            insert.Parameters.AddWithValue("$sha256", key.Sha256);
            insert.Parameters.AddWithValue("$name", (object?)key.Name ?? DBNull.Value);
            insert.Parameters.AddWithValue("$created_at", key.CreatedAt.UtcTicks);
            insert.ExecuteNonQuery();
        }, cancellationToken);
    }

    public async Task<ApiKeyRecord?> GetApiKeyAsync(string keyId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keyId);
        var keys = await ReadApiKeysAsync($"SELECT {ApiKeyColumns} FROM api_keys WHERE key_id = $value", keyId, cancellationToken);
        return keys.Count == 0 ? null : keys[0];
    }

    public Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        return ReadApiKeysAsync($"SELECT {ApiKeyColumns} FROM api_keys WHERE tenant_id = $value ORDER BY created_at, key_id", tenantId, cancellationToken);
    }

    private async Task<IReadOnlyList<ApiKeyRecord>> ReadApiKeysAsync(string sql, string value, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$value", value);
        var keys = new List<ApiKeyRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new ApiKeyRecord
            {
                KeyId = reader.GetString(0),
                TenantId = reader.GetString(1),
                Sha256 = reader.GetString(2),
                Name = reader.IsDBNull(3) ? null : reader.GetString(3),
                CreatedAt = JobCursor.FromUtcTicks(reader.GetInt64(4)),
                RevokedAt = reader.IsDBNull(5) ? null : JobCursor.FromUtcTicks(reader.GetInt64(5)),
            });
        }

        return keys;
    }

    public async Task<bool> RevokeApiKeyAsync(string tenantId, string keyId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        ArgumentNullException.ThrowIfNull(keyId);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE api_keys SET revoked_at = $at WHERE key_id = $key_id AND tenant_id = $tenant_id AND revoked_at IS NULL";
            update.Parameters.AddWithValue("$at", revokedAt.UtcTicks);
            update.Parameters.AddWithValue("$key_id", keyId);
            update.Parameters.AddWithValue("$tenant_id", tenantId);
            return update.ExecuteNonQuery() == 1;
        }, cancellationToken);
    }

    public async Task<bool> HasActiveApiKeysAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL)";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) != 0;
    }
}
