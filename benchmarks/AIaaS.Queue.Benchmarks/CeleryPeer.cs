using System.Globalization;
using System.Text.Json;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.TestSupport;

namespace AIaaS.Queue.Benchmarks;

/// <summary>What the peer did with one set of jobs: its end-to-end rate and the first job's outputs (to check the model).</summary>
internal sealed record PeerRun(double JobsPerSecond, float[] FirstOutput);

/// <summary>
/// Figure 8's peer, what users would otherwise reach for: Celery from Debian (<c>scripts/install-peer.sh</c>) on a
/// virtual host of its own of the same broker, one task per predict job, the same MLP weights evaluated in numpy
/// (<c>peer/celery_peer.py</c> reads them from the ONNX file written here). One worker runs for the whole benchmark;
/// each measurement is a driver process that submits the jobs and waits for every result, so the peer is measured end
/// to end, as the system's client measures the system. Every process is bounded in time and killed on dispose.
/// </summary>
internal sealed class CeleryPeer : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3"; // Debian's, where apt installed Celery (not a pyenv or venv one)
    private const int Processes = 2; // one per core of this machine
    private const int PrefetchMultiplier = 16; // per process: enough to keep it busy between tasks, not a whole run
    private static readonly TimeSpan DriverTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan WorkerDeadline = TimeSpan.FromMinutes(20); // the benchmark's own bound is 15
    private static readonly string ScriptDirectory = Path.Combine(Repository.Root.FullName, "benchmarks", "AIaaS.Queue.Benchmarks", "peer");

    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-peer-");
    private readonly Uri _broker;
    private readonly WorkerProcess _worker;

    private CeleryPeer(Uri broker, string versions)
    {
        _broker = broker;
        Configuration = string.Create(CultureInfo.InvariantCulture,
            $"{versions} from Debian on the same broker (own virtual host); {Processes} prefork worker processes, one BLAS thread each (OPENBLAS/OMP/MKL_NUM_THREADS=1), prefetch multiplier {PrefetchMultiplier}, acks_late, JSON, rpc:// results, one task per job, no publisher confirms; submitted and awaited by one driver process");
        _worker = WorkerProcess.StartProgram(Python,
            ["-m", "celery", "-A", "celery_peer", "worker", "--pool", "prefork", "--concurrency", $"{Processes}",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
            ScriptDirectory, PeerEnvironment(new Dictionary<string, string>
            {
                ["AIAAS_PEER_MODELS"] = _data.FullName,
                ["AIAAS_PEER_PREFETCH"] = $"{PrefetchMultiplier}",
                ["AIAAS_PEER_PARENT"] = $"{Environment.ProcessId}",
                ["AIAAS_PEER_DEADLINE_SECONDS"] = $"{WorkerDeadline.TotalSeconds}",
                ["OPENBLAS_NUM_THREADS"] = "1",
                ["OMP_NUM_THREADS"] = "1",
                ["MKL_NUM_THREADS"] = "1",
            }));
    }

    /// <summary>How the peer runs, for the results.</summary>
    public string Configuration { get; }

    /// <summary>Starts the peer's worker on <paramref name="broker"/>, or returns why it cannot run here.</summary>
    public static async Task<(CeleryPeer? Peer, string? WhyNot)> StartAsync(Uri broker, CancellationToken cancellationToken)
    {
        if (!File.Exists(Python))
        {
            return (null, $"{Python} is missing; run scripts/install-peer.sh");
        }

        await using var probe = WorkerProcess.StartProgram(Python,
            ["-c", "import celery, numpy, onnx; print(f'Celery {celery.__version__} + numpy {numpy.__version__}')"], ScriptDirectory,
            new Dictionary<string, string>());
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(TimeSpan.FromSeconds(60));
        return await probe.WaitForExitAsync(bounded.Token) == 0
            ? (new CeleryPeer(broker, probe.Output.Trim()), null)
            : (null, "Celery, numpy or onnx is not importable by /usr/bin/python3; run scripts/install-peer.sh");
    }

    /// <summary>Writes the model where the worker reads it, as the ONNX file the system is given.</summary>
    public void AddModel(string name, MlpModel model) =>
        File.WriteAllBytes(Path.Combine(_data.FullName, name + ".onnx"), OnnxModelWriter.Write(model));

    /// <summary>Submits one task per record and waits for every result (the driver's own timing, start to last result).</summary>
    public async Task<PeerRun> RunAsync(string model, float[][] records, CancellationToken cancellationToken)
    {
        var recordsPath = Path.Combine(_data.FullName, $"records-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(recordsPath, JsonSerializer.Serialize(records), cancellationToken);
        await using var driver = WorkerProcess.StartProgram(Python,
            ["celery_peer.py", model, recordsPath, $"{DriverTimeout.TotalSeconds}"], ScriptDirectory, PeerEnvironment([]));
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(DriverTimeout + TimeSpan.FromSeconds(30));
        var exitCode = await driver.WaitForExitAsync(bounded.Token);
        File.Delete(recordsPath);
        var result = driver.Output.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        if (exitCode != 0 || result is null)
        {
            throw new InvalidOperationException($"The Celery driver ended with {exitCode}:\n{driver.Output}\nworker:\n{_worker.Output}");
        }

        using var json = JsonDocument.Parse(result);
        var root = json.RootElement;
        var rate = root.GetProperty("jobs").GetInt32() / root.GetProperty("seconds").GetDouble();
        Console.WriteLine(FormattableString.Invariant($"  celery {model,-7} {records.Length,5} jobs {rate,8:F0} jobs/s"));
        return new PeerRun(rate, [.. root.GetProperty("first").EnumerateArray().Select(v => v.GetSingle())]);
    }

    private Dictionary<string, string> PeerEnvironment(Dictionary<string, string> extra)
    {
        extra["AIAAS_PEER_BROKER"] = _broker.ToString();
        extra["PYTHONPATH"] = ScriptDirectory;
        extra["PYTHONDONTWRITEBYTECODE"] = "1"; // no __pycache__ in the repository
        return extra;
    }

    public async ValueTask DisposeAsync()
    {
        await _worker.DisposeAsync();
        _data.Delete(recursive: true);
    }
}
