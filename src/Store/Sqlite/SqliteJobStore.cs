using System.Text;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;
using static AIaaS.Queue.Store.SqliteJobRows;

namespace AIaaS.Queue.Store;

/// <summary>The embedded store's jobs: filter and paging keys in indexed columns, outputs as JSON (sealed when encryption is on).</summary>
public sealed class SqliteJobStore(SqliteDatabase database) : IJobStore
{
    public Task InsertIfAbsentAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return WriteJobsAsync(InsertIfAbsentSql, jobs, cancellationToken);
    }

    public Task UpsertAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        return WriteJobsAsync(UpsertSql, jobs, cancellationToken);
    }

    public async Task<IReadOnlySet<JobKey>> CompleteAsync(IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        if (jobs.Count == 0)
        {
            return new HashSet<JobKey>();
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        return await database.WriteAsync(connection, IReadOnlySet<JobKey> (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
#pragma warning disable CA2100 // Constant SQL of this store and the final statuses' names; values are parameters.
            command.CommandText = CompleteSql;
#pragma warning restore CA2100
            var parameters = new JobParameters(command, database.Keys);
            command.Prepare();
            var written = new HashSet<JobKey>();
            foreach (var job in jobs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                parameters.Bind(job);
                if (command.ExecuteScalar() is not null)
                {
                    written.Add(JobKey.Of(job));
                }
            }

            return written;
        }, cancellationToken);
    }

    private async Task WriteJobsAsync(string sql, IReadOnlyCollection<JobRecord> jobs, CancellationToken cancellationToken)
    {
        if (jobs.Count == 0)
        {
            return;
        }

        await using var connection = await database.OpenAsync(cancellationToken);
        await database.WriteAsync(connection, (connection, transaction) =>
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            var parameters = new JobParameters(command, database.Keys);
            command.Prepare();
            foreach (var job in jobs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                parameters.Bind(job);
                command.ExecuteNonQuery();
            }
        }, cancellationToken);
    }

    public async Task<JobRecord?> GetAsync(string tenantId, Guid jobId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantId);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = GetWithOutputsSql;
        command.Parameters.Add("$tenant_id", SqliteType.Text).Value = tenantId;
        command.Parameters.Add("$id", SqliteType.Blob).Value = JobCursor.GuidBytes(jobId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadJob(reader, withOutputs: true, connection, database.Keys) : null;
    }

    public async Task<IReadOnlyList<JobRecord>> GetManyAsync(
        IReadOnlyCollection<JobKey> keys, bool includeOutputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
        {
            return [];
        }

        await using var connection = await database.OpenAsync(cancellationToken);

        // Point lookups on the primary key through one prepared statement cost microseconds each and keep the SQL
        // constant; one deferred transaction gives them a single snapshot.
        using var transaction = connection.BeginTransaction(deferred: true);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = includeOutputs ? GetWithOutputsSql : GetWithoutOutputsSql;
        var tenant = command.Parameters.Add("$tenant_id", SqliteType.Text);
        var id = command.Parameters.Add("$id", SqliteType.Blob);
        command.Prepare();

        var found = new List<JobRecord>(keys.Count);
        foreach (var key in keys.Distinct())
        {
            tenant.Value = key.TenantId;
            id.Value = JobCursor.GuidBytes(key.JobId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                found.Add(ReadJob(reader, includeOutputs, connection, database.Keys));
            }
        }

        transaction.Commit();
        return found;
    }

    // A range of ix_jobs_model_status, read no further than the limit (SqliteStoreContractTests checks the plan).
    internal const string CountJobsSql = "SELECT count(*) FROM (SELECT 1 FROM jobs WHERE model = $model AND status = $status LIMIT $limit)";

    public async Task<int> CountAsync(string model, JobStatus status, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = CountJobsSql;
        command.Parameters.Add("$model", SqliteType.Text).Value = model;
        command.Parameters.Add("$status", SqliteType.Text).Value = status.ToString();
        command.Parameters.Add("$limit", SqliteType.Integer).Value = limit;
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<JobPage> ListAsync(JobQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var limit = JobCursor.ClampLimit(query.Limit);

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // Only fixed fragments are joined; every value travels as a parameter. Each filter matches the leading
        // column of an index ending in (submitted_at DESC, id DESC), so SQLite walks the index in page order.
        var where = new List<string>(5);
        if (query.TenantId is { } tenantId)
        {
            where.Add("tenant_id = $tenant_id");
            command.Parameters.Add("$tenant_id", SqliteType.Text).Value = tenantId;
        }

        if (query.Status is { } status)
        {
            where.Add("status = $status");
            command.Parameters.Add("$status", SqliteType.Text).Value = status.ToString();
        }

        if (query.Model is { } model)
        {
            where.Add("model = $model");
            command.Parameters.Add("$model", SqliteType.Text).Value = model;
        }

        if (query.Kind is { } kind)
        {
            where.Add("kind = $kind");
            command.Parameters.Add("$kind", SqliteType.Text).Value = kind.ToString();
        }

        if (query.Cursor is not null)
        {
            var (afterTicks, afterId) = JobCursor.Decode(query.Cursor);
            where.Add("(submitted_at, id) < ($after_ticks, $after_id)");
            command.Parameters.Add("$after_ticks", SqliteType.Integer).Value = afterTicks;
            command.Parameters.Add("$after_id", SqliteType.Blob).Value = JobCursor.GuidBytes(afterId);
        }

        var sql = new StringBuilder("SELECT ").Append(JobReadColumns).Append(" FROM jobs");
        if (where.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", where);
        }

        sql.Append(" ORDER BY submitted_at DESC, id DESC LIMIT $limit");
        command.Parameters.Add("$limit", SqliteType.Integer).Value = limit + 1;
#pragma warning disable CA2100 // Built from the constant fragments above; values are parameters.
        command.CommandText = sql.ToString();
#pragma warning restore CA2100

        var items = new List<JobRecord>(Math.Min(limit + 1, 128));
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                items.Add(ReadJob(reader, withOutputs: false, connection, database.Keys));
            }
        }

        if (items.Count <= limit)
        {
            return new JobPage(items, null);
        }

        items.RemoveAt(limit);
        return new JobPage(items, JobCursor.Encode(items[^1]));
    }
}
