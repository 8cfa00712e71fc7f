using System.ComponentModel.DataAnnotations;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Workers;

/// <summary>Worker settings (configuration section <c>Workers</c>).</summary>
public sealed class WorkerOptions
{
    public const string SectionName = "Workers";

    /// <summary>Names this worker on every job it runs; defaults to host name and process id.</summary>
    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Unacknowledged predict messages a worker holds at most. This is the backpressure bound:
    /// whatever does not fit stays in the broker. Keep it at or above MaxBatchSize × (ModelInstances + 1)
    /// or batches cannot fill.</summary>
    [Range(1, 65535)]
    public int PrefetchCount { get; set; } = 256;

    /// <summary>Most bytes the response cache holds (the outputs of recent jobs of model versions registered with
    /// <c>responseCache</c>); the least recently used go first. 0 turns the cache off in this worker.</summary>
    [Range(0, long.MaxValue)]
    public long ResponseCacheBytes { get; set; } = 64L << 20;

    /// <summary>Defaults for models that neither the model registration nor <see cref="Models"/> configures.</summary>
    [Range(1, 4096)]
    public int MaxBatchSize { get; set; } = 64;

    [Range(0, 60_000)]
    public double MaxQueueDelayMilliseconds { get; set; } = 5;

    /// <summary>Model calls that may run at once per loaded model (Triton's instance count).</summary>
    [Range(1, 64)]
    public int ModelInstances { get; set; } = 1;

    /// <summary>ONNX Runtime intra-op threads per session; 0 lets ONNX Runtime choose.</summary>
    [Range(0, 256)]
    public int IntraOpThreads { get; set; }

    /// <summary>Use the CUDA execution provider when the GPU build runs on a machine with a GPU.</summary>
    public bool PreferCuda { get; set; } = true;

    /// <summary>Per-model batching overrides, by model name; they win over the model's registration.</summary>
    public Dictionary<string, BatchingSettings> Models { get; set; } = new(StringComparer.Ordinal);

    /// <summary>How long "latest" stays resolved to one version before the registry is asked again.</summary>
    public TimeSpan LatestVersionTtl { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Where model files are cached on local disk for ONNX Runtime. Default: a folder of the user's own
    /// (<c>$XDG_CACHE_HOME/aiaas-queue/models</c>, <c>~/.cache/aiaas-queue/models</c> on Linux), not one shared under the temp
    /// directory, where another user's process could plant a file under a model's name.</summary>
    public string ModelCacheDirectory { get; set; } = DefaultModelCacheDirectory();

    private static string DefaultModelCacheDirectory()
    {
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData) is { Length: > 0 } local && !OperatingSystem.IsLinux()
                ? local
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "aiaas-queue", "models");
    }

    /// <summary>How long a normal-priority request may wait in a worker's batcher while high-priority ones keep arriving
    /// before it is served as if it were high priority (aging), so that normal jobs are never starved.</summary>
    [Range(1, 3_600_000)]
    public double PriorityAgingMilliseconds { get; set; } = 1000;

    /// <summary>Declare the predict queue with RabbitMQ message priority (<c>x-max-priority</c> 1), so that high-priority jobs
    /// overtake a backlog still in the broker. Classic queues only: ignored with <c>Transport:QuorumQueues</c>.
    /// Like every queue argument, it must match the existing queue.</summary>
    public bool BrokerPriority { get; set; } = true;

    /// <summary>Most bytes of new tensors a model may make ONNX Runtime create while loading (the ResultApi's
    /// <c>MaxFoldedConstantBytes</c>, checked again here whatever registered the model).</summary>
    [Range(0, long.MaxValue)]
    public long MaxFoldedConstantBytes { get; set; } = Onnx.OnnxModelInspector.DefaultMaxFoldedBytes;

    /// <summary>Most bytes the models this worker holds loaded may take together, each estimated before it loads (twice its
    /// file, the constants its load folds, and a session's overhead). Loading one past it first unloads the least recently
    /// used idle models; a model larger than the whole budget fails its jobs with the reason. The default holds the largest
    /// model an upload may be (1 GiB, so 2 GiB loaded) with the most its load may fold (<see cref="MaxFoldedConstantBytes"/>).</summary>
    [Range(1, long.MaxValue)]
    public long LoadedModelBudgetBytes { get; set; } = 3L << 30;

    /// <summary>Most input values one predict job (or an inline training dataset) may carry; larger ones fail before any work.</summary>
    [Range(1, int.MaxValue)]
    public int MaxInputValues { get; set; } = 1_000_000;

    /// <summary>Most bytes (UTF-8) of BYTES (string) elements one predict job may carry across its inputs.</summary>
    [Range(1, int.MaxValue)]
    public int MaxInputBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Most bytes one bulk file may hold once decompressed; a job whose file passes it ends failed with the reason,
    /// keeping what was scored. The default is what the ResultApi takes as a plain upload (4 GiB).</summary>
    [Range(1, long.MaxValue)]
    public long MaxBulkDecompressedBytes { get; set; } = 4L << 30;

    /// <summary>Most records one bulk job may hold; a job whose file passes it ends failed with the reason, keeping what was scored.</summary>
    [Range(1, long.MaxValue)]
    public long MaxBulkRecords { get; set; } = 10_000_000;

    /// <summary>How long a worker keeps a finished batch's results and retries storing them while the store is unavailable.
    /// Its messages stay unacknowledged meanwhile, so the broker keeps the jobs and the worker takes no new ones beyond its
    /// prefetch. Keep it well under RabbitMQ's consumer acknowledgement timeout (30 minutes by default).</summary>
    public TimeSpan StoreOutageLimit { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Record submitted jobs as queued while they wait in the broker, so that their status shows them before they
    /// run: the SDK sends a registration for each group of submits the broker confirmed (<c>JobsQueued</c>), one delivery
    /// per group; the API's HTTP submissions record themselves. False: a job submitted over AMQP is unknown to the API until
    /// it has run.</summary>
    public bool RegisterQueuedJobs { get; set; } = true;

    /// <summary>Also record every <c>SubmitPredictJob</c> from a copy of the command (the registry's design before
    /// <c>JobsQueued</c>), for publishers over plain AMQP that send no registration. It costs a second delivery per job,
    /// which halved throughput in the benchmark (figure 2). Set it alike on every worker: a worker started with it off
    /// removes the registry's binding to the command exchange.</summary>
    public bool RegisterEveryCommand { get; set; }

    /// <summary>A batch may let its model instance go once the model call is done, and its results are stored together
    /// with those of the batches that finished meanwhile, in one store write (<see cref="Batching.ResultWriter"/>); at most
    /// <see cref="MaxBatchesAheadOfWrites"/> batches per model do so at a time. False (the default) holds the instance
    /// until the batch's own write is done, one write per batch; the benchmark measures both side by side (figure 2).</summary>
    /// <remarks>Off by default because it does not pay on warm processes: against the default, figure 2 measured 1.06-1.17
    /// on workers that had run a few hundred jobs, still compiling their code, and 0.78-0.90 in three runs on workers
    /// warmed up with 9,000 jobs. Its model run-ahead is bounded so that it keeps priority: unbounded, the model ran
    /// through every job the worker held while writes lagged, and a high-priority job that waits in the broker for a free
    /// prefetch slot (freed only by an acknowledgement, after a write) finished behind 128 to 248 of 400 normal jobs;
    /// bounded, 8 to 16 (ExpiryAndPriorityTests, run with it on).</remarks>
    public bool PipelinedResultWrites { get; set; }

    /// <summary>With <see cref="PipelinedResultWrites"/>: how many batches per model may have let their instance go while
    /// their results wait to be stored. A further batch keeps its instance until its own write is done, so the model runs at
    /// most this many batches ahead of the store, and a high-priority job arriving from the broker waits behind at most
    /// that many batches more than with the option off.</summary>
    [Range(1, 64)]
    public int MaxBatchesAheadOfWrites { get; set; } = 2;

    /// <summary>A bulk file's split parses the next chunk while the one before is stored and announced. False waits for each
    /// chunk's store write and publish before parsing on: the design before, kept so that the benchmark can measure the two
    /// side by side in one run (figure 3).</summary>
    public bool OverlappedBulkSplit { get; set; } = true;

    /// <summary>Records per model call when scoring a bulk chunk. Offline scoring has no latency to protect, so its
    /// batches are larger than the online default.</summary>
    [Range(1, 65536)]
    public int BulkBatchSize { get; set; } = 256;

    /// <summary>Bulk chunks a worker scores at once (and its prefetch on the chunk queue).</summary>
    [Range(1, 64)]
    public int BulkConcurrency { get; set; } = 2;

    /// <summary>Explanation jobs a worker runs at once (and its prefetch on their own queue, <c>explain-jobs</c>): each
    /// runs the model on thousands of rows, so they get a queue and a limit of their own and plain predict jobs keep theirs.</summary>
    [Range(1, 64)]
    public int ExplainConcurrency { get; set; } = 1;

    /// <summary>Rows per model call when evaluating an explanation's coalitions (records × coalitions × background rows).</summary>
    [Range(1, 1 << 20)]
    public int ExplainRowsPerCall { get; set; } = 16384;
}
