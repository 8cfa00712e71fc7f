using System.ComponentModel.DataAnnotations;

namespace AIaaS.Queue.Workers.Training;

/// <summary>Train job settings (configuration section <c>Training</c>).</summary>
public sealed class TrainingOptions
{
    public const string SectionName = "Training";

    /// <summary>Whether this worker runs train jobs; submissions and cancellations are recorded either way.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The program that starts the training child, given the child's dll and arguments (like <c>dotnet</c>).
    /// Empty: the compatibility launcher made by <c>scripts/setup-torch-compat.sh</c> when it exists, else <c>dotnet</c>.</summary>
    public string? Launcher { get; set; }

    /// <summary>Arguments placed before the child's dll, for launchers that need some (for example a container runner).</summary>
    public List<string> LauncherArguments { get; set; } = [];

    /// <summary>Where the compatibility runtime lives; defaults to <c>$AIAAS_TORCH_COMPAT</c>, else ~/.cache/aiaas-queue/torch-compat.</summary>
    public string? CompatRoot { get; set; }

    /// <summary>The training child (AIaaS.Queue.Training.dll). Empty: next to the worker in <c>training/</c>, else the
    /// build output of <c>src/Training</c> found above the worker's folder (a development checkout).</summary>
    public string? ChildAssembly { get; set; }

    /// <summary>Train jobs this worker runs at once; each is one child process.</summary>
    [Range(1, 64)]
    public int MaxConcurrentJobs { get; set; } = 1;

    /// <summary>Attempts per job: a crashed child or a lost worker counts as one; bad data or a timeout ends the job at once.</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 2;

    /// <summary>How long a claim on a running job lasts without renewal; another worker takes over a job whose lease ran out.</summary>
    [Range(typeof(TimeSpan), "00:00:02", "01:00:00")]
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a running job's lease is renewed, which is also how often a cancellation is noticed at the latest.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often an idle worker looks for queued train jobs (a submission it receives wakes it at once).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Per-job working folders (spec, data, model file); deleted when the job ends.</summary>
    public string WorkDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "aiaas-training");
}
