using System.Collections.Concurrent;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// Loads each model version once and shares it. Versions are immutable, so a loaded version is kept for the
/// life of the worker; "latest" is re-resolved after <see cref="WorkerOptions.LatestVersionTtl"/> so that a
/// newly registered version is picked up without a restart.
/// </summary>
internal sealed class ModelCache(
    IModelStore models,
    OnnxSessionFactory sessions,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<ModelCache> logger) : IDisposable
{
    private readonly ConcurrentDictionary<(string Name, int Version), Lazy<Task<LoadedModel>>> _loaded = new();
    private readonly MemoryCache _latest = new(new MemoryCacheOptions { Clock = new TimeProviderClock(time) });

    public async Task<LoadedModel> GetAsync(string name, int? version, CancellationToken cancellationToken)
    {
        var record = await ResolveAsync(name, version, cancellationToken).ConfigureAwait(false);
        var key = (record.Name, record.Version);
        var lazy = _loaded.GetOrAdd(key, _ => new Lazy<Task<LoadedModel>>(() => LoadAsync(record)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not ModelNotSupportedException)
        {
            // Forget a failed load so that the next job tries again (the store may have been down). A version refused for
            // what it is stays refused (versions are immutable): loading it again for every job only churned memory.
            _loaded.TryRemove(new KeyValuePair<(string, int), Lazy<Task<LoadedModel>>>(key, lazy));
            throw;
        }
    }

    private async Task<ModelVersionRecord> ResolveAsync(string name, int? version, CancellationToken cancellationToken)
    {
        if (version is null && _latest.TryGetValue(name, out ModelVersionRecord? cached))
        {
            return cached!;
        }

        var record = await models.GetVersionAsync(name, version, cancellationToken).ConfigureAwait(false)
            ?? throw new ModelNotFoundException(version is null
                ? $"Model '{name}' is not registered."
                : $"Model '{name}' has no version {version}.");
        if (version is null && options.Value.LatestVersionTtl > TimeSpan.Zero)
        {
            _latest.Set(name, record, options.Value.LatestVersionTtl);
        }

        return record;
    }

    private async Task<LoadedModel> LoadAsync(ModelVersionRecord record)
    {
        var directory = Path.Combine(options.Value.ModelCacheDirectory, SafeFileName(record.Name));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{record.Version}-{record.Sha256[..16]}.onnx");
        if (!File.Exists(path))
        {
            // Write under a temporary name first: another worker process may share the cache directory.
            var temporary = $"{path}.{Guid.NewGuid():N}.part";
            await using (var file = File.Create(temporary))
            {
                await models.CopyFileToAsync(record.Name, record.Version, file, CancellationToken.None).ConfigureAwait(false);
            }

            File.Move(temporary, path, overwrite: true);
        }

        // Before ONNX Runtime allocates anything: a model stored by any path (training, an older API) is bounded too.
        if (Onnx.OnnxLoadCheck.Problem(path, options.Value.MaxFoldedConstantBytes) is { } loadProblem)
        {
            throw new ModelNotSupportedException($"Model '{record.Name}' v{record.Version} cannot be served: {loadProblem}");
        }

        // A text recipe's vocabulary is small (a few hundred kB) and read once per version.
        var vocabulary = record.Recipe is { } recipe && RecipeKinds.TakesText(recipe.Kind) && record.HasVocabulary
            ? await models.GetVocabularyAsync(record.Name, record.Version, CancellationToken.None).ConfigureAwait(false)
            : null;
        try
        {
            var (session, device) = sessions.Create(path);
            LoadedModel model;
            try
            {
                model = new LoadedModel(record.Name, record.Version, session, device, BatchingFor(record), record.Recipe, vocabulary, record.Training, record.Background);
            }
            catch
            {
                // A model refused after its session loaded must not keep the session's memory.
                session.Dispose();
                throw;
            }

            logger.LogInformation("Loaded model {Model} v{Version} on {Device}: batch mode {BatchMode}, max batch {MaxBatch}, max delay {MaxDelay} ms, padded {Padded}, response cache {ResponseCache}, recipe {Recipe}",
                record.Name, record.Version, device, model.BatchMode, model.MaxBatchSize, model.MaxQueueDelay.TotalMilliseconds, model.IsPadded, model.ResponseCache,
                record.Recipe?.Kind ?? "none");
            return model;
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException ex)
        {
            throw new ModelNotSupportedException($"Model '{record.Name}' v{record.Version} could not be loaded by ONNX Runtime: {ex.Message}", ex);
        }
    }

    private BatchingSettings BatchingFor(ModelVersionRecord record)
    {
        var configured = options.Value.Models.GetValueOrDefault(record.Name);
        return new BatchingSettings
        {
            MaxBatchSize = configured?.MaxBatchSize ?? record.Batching?.MaxBatchSize ?? options.Value.MaxBatchSize,
            MaxQueueDelayMilliseconds = configured?.MaxQueueDelayMilliseconds
                ?? record.Batching?.MaxQueueDelayMilliseconds ?? options.Value.MaxQueueDelayMilliseconds,
            Inputs = configured?.Inputs ?? record.Batching?.Inputs,
            GroupByLength = configured?.GroupByLength ?? record.Batching?.GroupByLength,
            ResponseCache = configured?.ResponseCache ?? record.Batching?.ResponseCache,
        };
    }

    private static string SafeFileName(string name) =>
        string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));

    public void Dispose()
    {
        _latest.Dispose();
        foreach (var lazy in _loaded.Values)
        {
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
            {
                lazy.Value.Result.Dispose();
            }
        }
    }
}
