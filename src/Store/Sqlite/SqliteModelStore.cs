using System.Text.Json;
using AIaaS.Queue.Contracts;
using Microsoft.Data.Sqlite;
using static AIaaS.Queue.Store.SqliteCommands;

namespace AIaaS.Queue.Store;

/// <summary>The embedded store's model registry: versions in "model_versions", their files streamed in and out as 1 MiB
/// BLOB chunks (<see cref="SqliteFiles"/>), so no file is ever held in memory whole.</summary>
public sealed class SqliteModelStore(SqliteDatabase database) : IModelStore
{
    private const string ModelColumns = "name, version, created_at, size_bytes, sha256, inputs, outputs, batching, description, training, recipe, vocabulary IS NOT NULL, background";

    private const string GetVersionSql = $"SELECT {ModelColumns} FROM model_versions WHERE name = $name AND version = $version";
    private const string GetLatestVersionSql = $"SELECT {ModelColumns} FROM model_versions WHERE name = $name ORDER BY version DESC LIMIT 1";
    private const string ListVersionsSql = $"SELECT {ModelColumns} FROM model_versions ORDER BY name, version";
    private const string ListVersionsOfSql = $"SELECT {ModelColumns} FROM model_versions WHERE name = $name ORDER BY version";

    public async Task<ModelVersionRecord> AddVersionAsync(NewModelVersion model, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrWhiteSpace(model.Name);

        await using var connection = await database.OpenAsync(cancellationToken);
        var fileId = await SqliteFiles.CreateAsync(database, connection, cancellationToken);
        try
        {
            var (size, sha256) = await SqliteFiles.WriteChunksAsync(database, connection, fileId, content, cancellationToken);
            var createdAt = JobCursor.FromUtcTicks(database.Time.GetUtcNow().UtcTicks);

            // BEGIN IMMEDIATE takes the write lock before reading the current maximum, so no other writer, in this
            // process or another, can take the same number; the primary key would refuse it anyway.
            var version = await database.WriteAsync(connection, (connection, transaction) =>
            {
                if (model.Training is { } training && FindVersionByTrainingJob(connection, transaction, model.Name, training.TrainingJobId) is { } existing)
                {
                    return -existing;
                }

                var next = ExecuteScalar<long>(connection, transaction,
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = $name", ("$name", model.Name));
                using var insert = connection.CreateCommand();
                insert.Transaction = transaction;
                insert.CommandText = """
                    INSERT INTO model_versions (name, version, created_at, size_bytes, sha256, inputs, outputs, batching, description, file_id, training_job_id, training, recipe, vocabulary, background)
                    VALUES ($name, $version, $created_at, $size_bytes, $sha256, $inputs, $outputs, $batching, $description, $file_id, $training_job_id, $training, $recipe, $vocabulary, $background)
                    """;
                insert.Parameters.AddWithValue("$name", model.Name);
                insert.Parameters.AddWithValue("$version", next);
                insert.Parameters.AddWithValue("$created_at", createdAt.UtcTicks);
                insert.Parameters.AddWithValue("$size_bytes", size);
                insert.Parameters.AddWithValue("$sha256", sha256);
                insert.Parameters.AddWithValue("$inputs", JsonSerializer.Serialize(model.Inputs, StoreJson.Options));
                insert.Parameters.AddWithValue("$outputs", JsonSerializer.Serialize(model.Outputs, StoreJson.Options));
                insert.Parameters.AddWithValue("$batching",
                    model.Batching is null ? DBNull.Value : JsonSerializer.Serialize(model.Batching, StoreJson.Options));
                insert.Parameters.AddWithValue("$description", (object?)model.Description ?? DBNull.Value);
                insert.Parameters.AddWithValue("$file_id", fileId);
                insert.Parameters.AddWithValue("$training_job_id",
                    model.Training is null ? DBNull.Value : JobCursor.GuidBytes(model.Training.TrainingJobId));
                insert.Parameters.AddWithValue("$training",
                    model.Training is null ? DBNull.Value : JsonSerializer.Serialize(model.Training, StoreJson.Options));
                insert.Parameters.AddWithValue("$recipe",
                    model.Recipe is null ? DBNull.Value : JsonSerializer.Serialize(model.Recipe, StoreJson.Options));
                insert.Parameters.AddWithValue("$vocabulary", (object?)model.Vocabulary ?? DBNull.Value);
                insert.Parameters.AddWithValue("$background",
                    model.Background is null ? DBNull.Value : JsonSerializer.Serialize(model.Background, StoreJson.Options));
                insert.ExecuteNonQuery();
                return checked((int)next);
            }, cancellationToken);

            if (version < 0)
            {
                // This training job registered its model before (a retried attempt): keep that version, drop this file.
                await SqliteFiles.DeleteAsync(database, connection, fileId);
                return await GetVersionAsync(model.Name, -version, cancellationToken)
                    ?? throw new InvalidOperationException($"Model '{model.Name}' version {-version} vanished.");
            }

            return new ModelVersionRecord
            {
                Name = model.Name,
                Version = version,
                CreatedAt = createdAt,
                SizeBytes = size,
                Sha256 = sha256,
                Inputs = model.Inputs,
                Outputs = model.Outputs,
                Batching = model.Batching,
                Description = model.Description,
                Recipe = model.Recipe,
                HasVocabulary = model.Vocabulary is not null,
                Training = model.Training,
                Background = model.Background,
            };
        }
        catch
        {
            await SqliteFiles.DeleteAsync(database, connection, fileId);
            throw;
        }
    }

    public async Task<ModelVersionRecord?> GetVersionAsync(string name, int? version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = version is null ? GetLatestVersionSql : GetVersionSql;
        command.Parameters.AddWithValue("$name", name);
        if (version is { } v)
        {
            command.Parameters.AddWithValue("$version", v);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadModel(reader) : null;
    }

    public async Task<IReadOnlyList<ModelVersionRecord>> ListAsync(string? name = null, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = name is null ? ListVersionsSql : ListVersionsOfSql;
        if (name is not null)
        {
            command.Parameters.AddWithValue("$name", name);
        }

        var versions = new List<ModelVersionRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(ReadModel(reader));
        }

        return versions;
    }

    public async Task<string?> GetVocabularyAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT vocabulary FROM model_versions WHERE name = $name AND version = $version";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$version", version);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task CopyFileToAsync(string name, int version, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(destination);

        await using var connection = await database.OpenAsync(cancellationToken);
        List<long> chunkRowIds;
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                SELECT c.rowid
                FROM model_versions v LEFT JOIN model_file_chunks c ON c.file_id = v.file_id
                WHERE v.name = $name AND v.version = $version
                ORDER BY c.seq
                """;
            command.Parameters.AddWithValue("$name", name);
            command.Parameters.AddWithValue("$version", version);
            chunkRowIds = await ReadBlobRowIdsAsync(command, cancellationToken)
                ?? throw new KeyNotFoundException($"Model '{name}' has no version {version}.");
        }

        // Registered files are immutable, so the chunks can be read one by one without holding a snapshot.
        await CopyChunksAsync(connection, chunkRowIds, destination, cancellationToken);
    }

    private static ModelVersionRecord ReadModel(SqliteDataReader reader) => new()
    {
        Name = reader.GetString(0),
        Version = reader.GetInt32(1),
        CreatedAt = JobCursor.FromUtcTicks(reader.GetInt64(2)),
        SizeBytes = reader.GetInt64(3),
        Sha256 = reader.GetString(4),
        Inputs = JsonSerializer.Deserialize<List<TensorSpec>>(reader.GetString(5), StoreJson.Options) ?? [],
        Outputs = JsonSerializer.Deserialize<List<TensorSpec>>(reader.GetString(6), StoreJson.Options) ?? [],
        Batching = reader.IsDBNull(7) ? null : JsonSerializer.Deserialize<BatchingSettings>(reader.GetString(7), StoreJson.Options),
        Description = reader.IsDBNull(8) ? null : reader.GetString(8),
        Training = reader.IsDBNull(9) ? null : JsonSerializer.Deserialize<ModelTrainingInfo>(reader.GetString(9), StoreJson.Options),
        Recipe = reader.IsDBNull(10) ? null : JsonSerializer.Deserialize<ModelRecipe>(reader.GetString(10), StoreJson.Options),
        HasVocabulary = reader.GetBoolean(11),
        Background = reader.IsDBNull(12) ? null : JsonSerializer.Deserialize<ExplanationBackground>(reader.GetString(12), StoreJson.Options),
    };

    public async Task<ModelVersionRecord?> GetVersionByTrainingJobAsync(string name, Guid trainingJobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {ModelColumns} FROM model_versions WHERE name = $name AND training_job_id = $id";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(trainingJobId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadModel(reader) : null;
    }

    private static int? FindVersionByTrainingJob(SqliteConnection connection, SqliteTransaction transaction, string name, Guid trainingJobId)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT version FROM model_versions WHERE name = $name AND training_job_id = $id";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$id", JobCursor.GuidBytes(trainingJobId));
        return command.ExecuteScalar() is long version ? checked((int)version) : null;
    }
}
