using System.Collections.Concurrent;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// Loads each model version once and shares it among the jobs that rent it. Versions are immutable, so a loaded version is
/// kept while it fits this worker's memory budget for loaded models (<see cref="WorkerOptions.LoadedModelBudgetBytes"/>):
/// loading one that would pass the budget first unloads the least recently used idle ones (no lease out), waits for
/// busy ones to go idle when that is not enough, and refuses a version that alone is larger than the budget. "Latest" is
/// re-resolved after <see cref="WorkerOptions.LatestVersionTtl"/> so that a newly registered version is picked up without a
/// restart.
/// </summary>
internal sealed class ModelCache(
    IModelStore models,
    OnnxSessionFactory sessions,
    IOptions<WorkerOptions> options,
    TimeProvider time,
    ILogger<ModelCache> logger) : IDisposable
{
    /// <summary>What a session holds beyond its tensors (graph, kernels, arena blocks), added to each model's estimate so
    /// that thousands of tiny models are bounded too.</summary>
    internal const long SessionOverheadBytes = 4L << 20;

    /// <summary>What a loaded model is taken to hold: its file's tensors twice (measured here with ONNX Runtime 1.31 on CPU:
    /// 30 MLPs of 20 MB each grew a worker by 1,296 MiB, 43 MiB a model: the initializers stay beside the copies that the
    /// matrix kernels pre-pack), the constants its load folds, and a session's overhead.</summary>
    internal static long EstimateBytes(long fileBytes, long foldedBytes) => 2 * fileBytes + foldedBytes + SessionOverheadBytes;

    private readonly object _gate = new();
    private readonly Dictionary<(string Name, int Version), Entry> _entries = [];
    private readonly MemoryCache _latest = new(new MemoryCacheOptions { Clock = new TimeProviderClock(time) });
    private readonly CancellationTokenSource _disposing = new();
    private long _reservedBytes;
    private TaskCompletionSource _idled = NewSignal();

    /// <summary>Raised before an evicted model is disposed, so that whatever was built around it (its batcher) goes first.</summary>
    public event Func<LoadedModel, ValueTask>? Unloading;

    /// <summary>Bytes the loaded (and loading) models are estimated to hold.</summary>
    public long LoadedBytes
    {
        get
        {
            lock (_gate)
            {
                return _reservedBytes;
            }
        }
    }

    /// <summary>The versions loaded now.</summary>
    public IReadOnlyList<(string Name, int Version)> Loaded
    {
        get
        {
            lock (_gate)
            {
                return _entries.Values.Where(e => e.Load.IsValueCreated && e.Load.Value.IsCompletedSuccessfully).Select(e => e.Key).ToArray();
            }
        }
    }

    /// <summary>The model, loaded if need be, held loaded until the lease is disposed: dispose it once the job is done with it.</summary>
    public async Task<ModelLease> RentAsync(string name, int? version, CancellationToken cancellationToken)
    {
        var record = await ResolveAsync(name, version, cancellationToken).ConfigureAwait(false);
        var key = (record.Name, record.Version);
        Entry entry;
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out entry!))
            {
                entry = new Entry(key);
                var created = entry;
                entry.Load = new Lazy<Task<LoadedModel>>(() => LoadAsync(created, record));
                _entries[key] = entry;
            }

            // Counted before the load finishes: a model that jobs wait for is not idle.
            entry.Leases++;
            entry.LastUsed = time.GetTimestamp();
        }

        try
        {
            var model = await entry.Load.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            return new ModelLease(model, () => Return(entry));
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                // Forget a failed load so that the next job tries again (the store may have been down). A version refused for
                // what it is stays refused (versions are immutable): loading it again for every job only churned memory.
                if (ex is not OperationCanceledException and not ModelNotSupportedException && entry.Load.Value.IsFaulted
                    && _entries.TryGetValue(key, out var current) && current == entry)
                {
                    _entries.Remove(key);
                }
            }

            Return(entry);
            throw;
        }
    }

    private void Return(Entry entry)
    {
        lock (_gate)
        {
            entry.Leases--;
            entry.LastUsed = time.GetTimestamp();
            if (entry.Leases == 0)
            {
                Signal();
            }
        }
    }

    /// <summary>Wakes loads waiting for room. Called under <see cref="_gate"/>.</summary>
    private void Signal()
    {
        var idled = _idled;
        _idled = NewSignal();
        idled.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Reserves <paramref name="bytes"/> of the budget for <paramref name="entry"/>, unloading the least recently used
    /// idle models when that makes room, or waiting for busy ones to go idle when it does not.</summary>
    private async Task ReserveAsync(Entry entry, long bytes)
    {
        var budget = options.Value.LoadedModelBudgetBytes;
        while (true)
        {
            List<Entry>? victims = null;
            Task idled;
            lock (_gate)
            {
                if (_reservedBytes + bytes <= budget)
                {
                    _reservedBytes += bytes;
                    entry.Bytes = bytes;
                    return;
                }

                var idle = _entries.Values
                    .Where(e => e != entry && e.Leases == 0 && e.Bytes > 0 && e.Load.IsValueCreated && e.Load.Value.IsCompletedSuccessfully)
                    .OrderBy(e => e.LastUsed)
                    .ToList();
                var freed = 0L;
                var count = 0;
                while (count < idle.Count && _reservedBytes - freed + bytes > budget)
                {
                    freed += idle[count++].Bytes;
                }

                if (_reservedBytes - freed + bytes <= budget)
                {
                    // Evict only when that makes room: unloading models that would not have made room only churns.
                    victims = idle.Take(count).ToList();
                    foreach (var victim in victims)
                    {
                        _entries.Remove(victim.Key);
                    }

                    _reservedBytes += bytes - freed;
                    entry.Bytes = bytes;
                }

                idled = _idled.Task;
            }

            if (victims is not null)
            {
                foreach (var victim in victims)
                {
                    await UnloadAsync(victim).ConfigureAwait(false);
                }

                return;
            }

            logger.LogInformation("Model {Model} v{Version} waits for loaded models to go idle: {Bytes} bytes do not fit the budget of {Budget}",
                entry.Key.Name, entry.Key.Version, bytes, budget);
            await idled.WaitAsync(_disposing.Token).ConfigureAwait(false);
        }
    }

    private void Unreserve(Entry entry)
    {
        lock (_gate)
        {
            _reservedBytes -= entry.Bytes;
            entry.Bytes = 0;
            Signal();
        }
    }

    private async Task UnloadAsync(Entry entry)
    {
        var model = await entry.Load.Value.ConfigureAwait(false);
        logger.LogInformation("Unloaded model {Model} v{Version} ({Bytes} bytes), the least recently used idle one, to keep within the budget for loaded models",
            model.Name, model.Version, entry.Bytes);
        if (Unloading is { } unloading)
        {
            foreach (var handler in unloading.GetInvocationList().Cast<Func<LoadedModel, ValueTask>>())
            {
                await handler(model).ConfigureAwait(false);
            }
        }

        model.Dispose();
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

    private async Task<LoadedModel> LoadAsync(Entry entry, ModelVersionRecord record)
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
        var (loadProblem, foldedBytes) = Onnx.OnnxLoadCheck.Check(path, options.Value.MaxFoldedConstantBytes);
        if (loadProblem is not null)
        {
            throw new ModelNotSupportedException($"Model '{record.Name}' v{record.Version} cannot be served: {loadProblem}");
        }

        var bytes = EstimateBytes(new FileInfo(path).Length, foldedBytes);
        var budget = options.Value.LoadedModelBudgetBytes;
        if (bytes > budget)
        {
            throw new ModelNotSupportedException($"Model '{record.Name}' v{record.Version} cannot be served by this worker: loaded it would hold "
                + $"about {bytes} bytes, more than the worker's whole budget for loaded models ({budget} bytes).");
        }

        await ReserveAsync(entry, bytes).ConfigureAwait(false);

        // A text recipe's vocabulary is small (a few hundred kB) and read once per version.
        try
        {
            var vocabulary = record.Recipe is { } recipe && RecipeKinds.TakesText(recipe.Kind) && record.HasVocabulary
                ? await models.GetVocabularyAsync(record.Name, record.Version, CancellationToken.None).ConfigureAwait(false)
                : null;
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
            Unreserve(entry);
            throw new ModelNotSupportedException($"Model '{record.Name}' v{record.Version} could not be loaded by ONNX Runtime: {ex.Message}", ex);
        }
        catch
        {
            Unreserve(entry);
            throw;
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
        _disposing.Cancel();
        _latest.Dispose();
        lock (_gate)
        {
            foreach (var entry in _entries.Values)
            {
                if (entry.Load.IsValueCreated && entry.Load.Value.IsCompletedSuccessfully)
                {
                    entry.Load.Value.Result.Dispose();
                }
            }

            _entries.Clear();
        }

        _disposing.Dispose();
    }

    /// <summary>One version's load and what keeps it: its leases out, when it was last used, the bytes it holds of the budget.
    /// Guarded by <see cref="_gate"/>.</summary>
    private sealed class Entry((string Name, int Version) key)
    {
        public (string Name, int Version) Key { get; } = key;

        public Lazy<Task<LoadedModel>> Load { get; set; } = null!;

        public int Leases { get; set; }

        public long LastUsed { get; set; }

        public long Bytes { get; set; }
    }
}
