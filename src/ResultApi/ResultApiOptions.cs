using System.ComponentModel.DataAnnotations;

namespace AIaaS.Queue.ResultApi;

/// <summary>ResultApi settings (configuration section <c>ResultApi</c>).</summary>
public sealed class ResultApiOptions
{
    public const string SectionName = "ResultApi";

    /// <summary>Host the workers in this process. Null means: yes on the in-memory transport (the embedded
    /// default, where nothing else could consume), no on a broker.</summary>
    public bool? HostWorkers { get; set; }

    /// <summary>Largest model file accepted for registration.</summary>
    [Range(1, long.MaxValue)]
    public long MaxModelBytes { get; set; } = 1L << 30;
}
