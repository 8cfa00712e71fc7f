using System.ComponentModel.DataAnnotations;

namespace AIaaS.Queue.ResultApi;

/// <summary>ResultApi settings (configuration section <c>ResultApi</c>).</summary>
public sealed class ResultApiOptions
{
    public const string SectionName = "ResultApi";

    /// <summary>Host the workers in this process; read by the Server (<c>src/Server</c>), which alone can, and refused by
    /// the ResultApi on its own. Null means: yes on the in-memory transport (the embedded default, where nothing else
    /// could consume), no on a broker.</summary>
    public bool? HostWorkers { get; set; }

    /// <summary>Admission limit for <c>POST /v1/jobs</c>: a predict job for a model that already has this many jobs queued
    /// (as recorded in the store, from any submitter) is refused with 429 and Retry-After. Null: no limit. Up to one page
    /// of jobs (1000), since the check reads at most one page.</summary>
    [Range(1, 1000)]
    public int? MaxQueuedJobsPerModel { get; set; }

    public const long DefaultMaxRequestBodyBytes = 16L << 20;

    /// <summary>Largest request body (Kestrel's limit) for every endpoint but the model and dataset uploads, which have their own.</summary>
    [Range(1, long.MaxValue)]
    public long MaxRequestBodyBytes { get; set; } = DefaultMaxRequestBodyBytes;

    /// <summary>Most input values one predict job submitted over HTTP may carry (the workers' <c>Workers:MaxInputValues</c>).</summary>
    [Range(1, int.MaxValue)]
    public int MaxInputValues { get; set; } = 1_000_000;

    /// <summary>Seconds <c>POST /v2/models/{name}/infer</c> waits for its job before it answers 202 with the job's Location;
    /// a request may ask for less (<c>parameters.timeout_ms</c>), never more, so that a slow queue holds no connection long.</summary>
    [Range(0d, 3600d)]
    public double InferWaitSeconds { get; set; } = 30;

    /// <summary>Largest data file accepted by <c>POST /v1/datasets</c>.</summary>
    [Range(1, long.MaxValue)]
    public long MaxDatasetBytes { get; set; } = 1L << 30;

    /// <summary>Largest model file accepted for registration.</summary>
    [Range(1, long.MaxValue)]
    public long MaxModelBytes { get; set; } = 1L << 30;

    /// <summary>Largest <c>vocab.txt</c> accepted with a model registered with a text recipe (held in memory to check it, and
    /// stored with the version); the same bound holds for the <c>labels</c> and <c>recipe</c> parts of the upload.</summary>
    [Range(1, int.MaxValue)]
    public int MaxVocabularyBytes { get; set; } = 16 << 20;

    /// <summary>Most bytes of new tensors a model may make ONNX Runtime create while loading (folded constants, sparse
    /// tensors made dense); a model over it is refused at registration, and by the workers when they load it.</summary>
    [Range(0, long.MaxValue)]
    public long MaxFoldedConstantBytes { get; set; } = Onnx.OnnxModelInspector.DefaultMaxFoldedBytes;

    /// <summary>Largest input file accepted by <c>POST /v1/batches</c> (it is streamed to the store, never held in memory).</summary>
    [Range(1, long.MaxValue)]
    public long MaxBulkFileBytes { get; set; } = 4L << 30;
}
