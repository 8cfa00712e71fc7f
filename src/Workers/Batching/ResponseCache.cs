using System.Runtime.InteropServices;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.ServiceDefaults;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Inference;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>
/// Triton-style response cache: the outputs of recent succeeded jobs of model versions that opted in at registration
/// (<see cref="BatchingSettings.ResponseCache"/>), by <see cref="ResponseCacheKey"/>, so that a job with identical inputs
/// is answered without a model call. Bounded by <see cref="WorkerOptions.ResponseCacheBytes"/>: MemoryCache with a size
/// limit in bytes evicts the least recently used entries. An entry also names its tenant and is only ever handed to that
/// tenant, though the tenant is in the key already.
/// </summary>
internal sealed class ResponseCache : IDisposable
{
    private readonly MemoryCache? _entries;
    private readonly long _limit;
    private readonly AiaasMetrics _metrics;

    public ResponseCache(IOptions<WorkerOptions> options, AiaasMetrics metrics)
    {
        _metrics = metrics;
        _limit = options.Value.ResponseCacheBytes;
        // A full cache turns a new entry away and compacts in the background, down to (1 - CompactionPercentage) of the
        // limit, least recently used first: a quarter makes room for many entries per compaction rather than one.
        _entries = _limit > 0
            ? new MemoryCache(new MemoryCacheOptions { SizeLimit = _limit, CompactionPercentage = 0.25, TrackStatistics = true })
            : null;
    }

    /// <summary>The job's key, or null when its model version did not opt in (or the worker's cache is off).</summary>
    public string? KeyFor(LoadedModel model, string tenantId, SubmitPredictJob job, PreparedRequest request) =>
        _entries is not null && model.ResponseCache ? ResponseCacheKey.For(tenantId, model, job, request) : null;

    /// <summary>The outputs stored under <paramref name="key"/> for this tenant; counted as a hit or a miss.</summary>
    public IReadOnlyList<InferTensor>? Find(LoadedModel model, string tenantId, string key)
    {
        var outputs = _entries is not null && _entries.TryGetValue(key, out CachedResponse? found) && found!.TenantId == tenantId
            ? found.Outputs
            : null;
        _metrics.ResponseCacheLookup(model.Name, hit: outputs is not null);
        return outputs;
    }

    /// <summary>Keeps the outputs of a batch's jobs that succeeded and were stored by it (indexes into
    /// <paramref name="records"/>), each under the key its job arrived with. Failed jobs are never kept.</summary>
    public void Fill(IReadOnlyList<PendingPrediction> predictions, IReadOnlyList<JobRecord> records, IEnumerable<int> stored)
    {
        foreach (var i in stored)
        {
            if (predictions[i].ResponseCacheKey is { } key && records[i] is { Status: JobStatus.Succeeded, Outputs: { } outputs })
            {
                Add(predictions[i].TenantId, key, outputs);
            }
        }
    }

    public void Add(string tenantId, string key, IReadOnlyList<InferTensor> outputs)
    {
        var size = SizeOf(key, outputs);
        if (_entries is null || size > _limit)
        {
            return; // An answer larger than the whole cache would only evict everything else.
        }

        _entries.Set(key, new CachedResponse(tenantId, outputs), new MemoryCacheEntryOptions { Size = size });
    }

    /// <summary>Entries held now.</summary>
    public long Count => _entries?.Count ?? 0;

    /// <summary>Bytes held now, as the entries' sizes estimate them.</summary>
    public long Bytes => _entries?.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0;

    /// <summary>An estimate of the memory an entry holds: each output's JSON text, the parsed document's 12-byte record per
    /// element, its name, datatype and shape, and the key.</summary>
    internal static long SizeOf(string key, IReadOnlyList<InferTensor> outputs)
    {
        long size = 64 + 2L * key.Length;
        foreach (var output in outputs)
        {
            var elements = 1L;
            foreach (var dimension in output.Shape ?? [])
            {
                elements *= Math.Max(1, dimension);
            }

            size += 64 + 2L * (output.Name.Length + output.Datatype.Length) + 8L * (output.Shape?.Count ?? 0)
                + JsonMarshal.GetRawUtf8Value(output.Data).Length + 12 * (elements + 2);
        }

        return size;
    }

    public void Dispose() => _entries?.Dispose();

    private sealed record CachedResponse(string TenantId, IReadOnlyList<InferTensor> Outputs);
}
