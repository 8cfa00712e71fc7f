using MongoDB.Bson;
using MongoDB.Driver;
using MongoDB.Driver.GridFS;
using static AIaaS.Queue.Store.MongoCommands;

namespace AIaaS.Queue.Store;

/// <summary>The distributed store's model registry: versions in "models", files in the GridFS bucket "models".</summary>
public sealed class MongoModelStore(MongoDatabaseContext context) : IModelStore
{
    // Each round of a version race has one winner, so n concurrent registrations of one name settle within n rounds.
    private const int MaxVersionAttempts = 100;


    public async Task<ModelVersionRecord> AddVersionAsync(NewModelVersion model, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrWhiteSpace(model.Name);
        await context.EnsureIndexesAsync(cancellationToken);
        if (model.Training is { } training && await FindByTrainingJobAsync(model.Name, training.TrainingJobId, cancellationToken) is { } registered)
        {
            return registered.ToRecord();
        }

        // The file goes first, so a version is never visible before its file is complete.
        var fileId = ObjectId.GenerateNewId();
        long size;
        string sha256;
        using (var hashing = new HashingReadStream(content))
        {
            await context.ModelFiles.UploadFromStreamAsync(
                fileId,
                model.Name,
                hashing,
                new GridFSUploadOptions { ChunkSizeBytes = MongoDatabaseContext.FileChunkSize, Metadata = new BsonDocument("name", model.Name) },
                cancellationToken);
            size = hashing.BytesRead;
            sha256 = hashing.Sha256Hex();
        }

        var document = new ModelDocument
        {
            Name = model.Name,
            CreatedAt = context.Time.GetUtcNow().UtcTicks,
            SizeBytes = size,
            Sha256 = sha256,
            Inputs = model.Inputs.Select(TensorSpecDocument.From).ToList(),
            Outputs = model.Outputs.Select(TensorSpecDocument.From).ToList(),
            Batching = model.Batching is null ? null : BatchingDocument.From(model.Batching),
            Description = model.Description,
            FileId = fileId,
            TrainingJobId = model.Training?.TrainingJobId,
            Training = model.Training is null ? null : System.Text.Json.JsonSerializer.Serialize(model.Training, StoreJson.Options),
            Background = model.Background is null ? null : System.Text.Json.JsonSerializer.Serialize(model.Background, StoreJson.Options),
            Recipe = model.Recipe is null ? null : System.Text.Json.JsonSerializer.Serialize(model.Recipe, StoreJson.Options),
            Vocabulary = model.Vocabulary,
            HasVocabulary = model.Vocabulary is not null,
        };

        try
        {
            await InsertNextVersionAsync(document, cancellationToken);
        }
        catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey && model.Training is not null)
        {
            // Another attempt of the same train job registered first: its version stands, this file goes.
            await DeleteFileQuietlyAsync(fileId);
            var raced = await FindByTrainingJobAsync(model.Name, model.Training.TrainingJobId, cancellationToken);
            if (raced is null)
            {
                throw;
            }

            return raced.ToRecord();
        }
        catch
        {
            await DeleteFileQuietlyAsync(fileId);
            throw;
        }

        await TagFileWithVersionAsync(fileId, document.Version);
        return document.ToRecord();
    }

    private async Task InsertNextVersionAsync(ModelDocument document, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var latest = await context.Models
                .Find(ModelFilter.Eq(d => d.Name, document.Name))
                .SortByDescending(d => d.Version)
                .Limit(1)
                .FirstOrDefaultAsync(cancellationToken);

            document.Id = ObjectId.GenerateNewId();
            document.Version = (latest?.Version ?? 0) + 1;
            try
            {
                // The unique (name, version) index decides races: the loser reads the new maximum and tries again.
                await context.Models.InsertOneAsync(document, cancellationToken: cancellationToken);
                return;
            }
            catch (MongoWriteException ex) when (ex.WriteError?.Category == ServerErrorCategory.DuplicateKey && attempt < MaxVersionAttempts)
            {
                // The training-job index refuses a second version of one train job: that is final, not a version race.
                if (document.TrainingJobId is { } trainingJobId && await FindByTrainingJobAsync(document.Name, trainingJobId, cancellationToken) is not null)
                {
                    throw;
                }
            }
        }
    }

    private async Task TagFileWithVersionAsync(ObjectId fileId, int version)
    {
        // The model document is the record; the version in the file's metadata is for people browsing the bucket,
        // and failing to add it must not report a registered version as failed.
        try
        {
            await context.Database.GetCollection<BsonDocument>(MongoDatabaseContext.FilesBucket + ".files").UpdateOneAsync(
                Builders<BsonDocument>.Filter.Eq("_id", fileId),
                Builders<BsonDocument>.Update.Set("metadata.version", version));
        }
        catch (MongoException)
        {
        }
    }

    private async Task DeleteFileQuietlyAsync(ObjectId fileId)
    {
        try
        {
            await context.ModelFiles.DeleteAsync(fileId, CancellationToken.None);
        }
        catch (MongoException)
        {
            // Includes GridFSFileNotFoundException: an upload cancelled half-way has already removed its chunks.
        }
    }

    public async Task<ModelVersionRecord?> GetVersionAsync(string name, int? version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        await context.EnsureIndexesAsync(cancellationToken);
        var document = await FindVersionAsync(name, version, cancellationToken);
        return document?.ToRecord();
    }

    private Task<ModelDocument?> FindVersionAsync(string name, int? version, CancellationToken cancellationToken)
    {
        var byName = ModelFilter.Eq(d => d.Name, name);
        var find = version is { } v
            ? context.Models.Find(ModelFilter.And(byName, ModelFilter.Eq(d => d.Version, v)))
            : context.Models.Find(byName).SortByDescending(d => d.Version).Limit(1);
        return find.Project<ModelDocument>(WithoutVocabulary).FirstOrDefaultAsync(cancellationToken)!;
    }

    /// <summary>A vocabulary can be hundreds of kilobytes: only the worker loading a version reads it.</summary>
    private static readonly ProjectionDefinition<ModelDocument> WithoutVocabulary = Builders<ModelDocument>.Projection.Exclude(d => d.Vocabulary);

    public async Task<string?> GetVocabularyAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        await context.EnsureIndexesAsync(cancellationToken);
        var document = await context.Models.Find(ModelFilter.And(ModelFilter.Eq(d => d.Name, name), ModelFilter.Eq(d => d.Version, version)))
            .FirstOrDefaultAsync(cancellationToken);
        return document?.Vocabulary;
    }

    public async Task<IReadOnlyList<ModelVersionRecord>> ListAsync(string? name = null, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        var documents = await context.Models
            .Find(name is null ? ModelFilter.Empty : ModelFilter.Eq(d => d.Name, name))
            .Sort(Builders<ModelDocument>.Sort.Ascending(d => d.Name).Ascending(d => d.Version))
            .Project<ModelDocument>(WithoutVocabulary)
            .ToListAsync(cancellationToken);
        return documents.ConvertAll(d => d.ToRecord());
    }

    public async Task CopyFileToAsync(string name, int version, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(destination);
        await context.EnsureIndexesAsync(cancellationToken);

        var document = await FindVersionAsync(name, version, cancellationToken)
            ?? throw new KeyNotFoundException($"Model '{name}' has no version {version}.");
        try
        {
            await context.ModelFiles.DownloadToStreamAsync(document.FileId, destination, cancellationToken: cancellationToken);
        }
        catch (GridFSFileNotFoundException ex)
        {
            throw new KeyNotFoundException($"The file of model '{name}' version {version} is missing.", ex);
        }
    }

    private Task<ModelDocument?> FindByTrainingJobAsync(string name, Guid trainingJobId, CancellationToken cancellationToken) =>
        context.Models.Find(ModelFilter.And(ModelFilter.Eq(d => d.Name, name), ModelFilter.Eq(d => d.TrainingJobId, trainingJobId)))
            .FirstOrDefaultAsync(cancellationToken)!;

    public async Task<ModelVersionRecord?> GetVersionByTrainingJobAsync(string name, Guid trainingJobId, CancellationToken cancellationToken = default)
    {
        await context.EnsureIndexesAsync(cancellationToken);
        return (await FindByTrainingJobAsync(name, trainingJobId, cancellationToken))?.ToRecord();
    }
}
