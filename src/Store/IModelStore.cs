namespace AIaaS.Queue.Store;

/// <summary>A registry of named, versioned model files. Versions start at 1 and are immutable once added.</summary>
public interface IModelStore
{
    /// <summary>Stores the file and registers it as the next version of <see cref="NewModelVersion.Name"/>.
    /// Concurrent registrations of one name get distinct, consecutive versions.</summary>
    Task<ModelVersionRecord> AddVersionAsync(NewModelVersion model, Stream content, CancellationToken cancellationToken = default);

    /// <summary>The given version, or the latest when <paramref name="version"/> is null; null when there is none.</summary>
    Task<ModelVersionRecord?> GetVersionAsync(string name, int? version, CancellationToken cancellationToken = default);

    /// <summary>All versions of one model (or of every model when <paramref name="name"/> is null), by name then version.</summary>
    Task<IReadOnlyList<ModelVersionRecord>> ListAsync(string? name = null, CancellationToken cancellationToken = default);

    /// <summary>The vocabulary stored with the version; null when it has none or the version is unknown.</summary>
    Task<string?> GetVocabularyAsync(string name, int version, CancellationToken cancellationToken = default);

    /// <summary>Copies the model file to <paramref name="destination"/>, streaming; throws <see cref="KeyNotFoundException"/> for an unknown version.</summary>
    Task CopyFileToAsync(string name, int version, Stream destination, CancellationToken cancellationToken = default);

    /// <summary>The version of model <paramref name="name"/> a train job registered, if any (registration is idempotent on the
    /// model and the job id: model names are per tenant, as job ids are, so the pair names one tenant's train job).</summary>
    Task<ModelVersionRecord?> GetVersionByTrainingJobAsync(string name, Guid trainingJobId, CancellationToken cancellationToken = default);
}
