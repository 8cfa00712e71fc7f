using System.Diagnostics;
using System.Text;

namespace AIaaS.Queue.TestSupport;

/// <summary>A real <c>src/Workers</c> (or other service) process, configured by environment variables as in a deployment.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private WorkerProcess(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    /// <summary>Ends the process at once, as a crash or the OOM killer would: <see cref="Process.Kill()"/> is SIGKILL on
    /// Unix, so no shutdown code runs and nothing is acknowledged or flushed.</summary>
    public void Crash() => _process.Kill();

    /// <summary>Peak resident memory of the process so far (Linux: VmHWM), or null where it cannot be read.</summary>
    public long? PeakMemoryBytes() => StatusBytes("VmHWM:");

    /// <summary>Resident memory of the process now (Linux: VmRSS), or null where it cannot be read.</summary>
    public long? CurrentMemoryBytes() => StatusBytes("VmRSS:");

    private long? StatusBytes(string field)
    {
        var status = $"/proc/{_process.Id}/status";
        var line = File.Exists(status) ? File.ReadLines(status).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal)) : null;
        return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>Starts the Workers host, or the given service assembly, with <paramref name="environment"/> over its configuration.</summary>
    public static WorkerProcess Start(IReadOnlyDictionary<string, string> environment, string? assembly = null)
    {
        assembly ??= Repository.WorkersAssembly();
        var settings = new Dictionary<string, string>
        {
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["Logging__Console__FormatterName"] = "simple",
        };
        foreach (var (key, value) in environment)
        {
            settings[key] = value;
        }

        return StartProgram("dotnet", [assembly], Path.GetDirectoryName(assembly)!, settings);
    }

    /// <summary>Starts any program (a peer system's worker, a script) with its output captured, ended like a worker on dispose.</summary>
    public static WorkerProcess StartProgram(string fileName, IEnumerable<string> arguments, string workingDirectory,
        IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var worker = new WorkerProcess(process);
        process.OutputDataReceived += (_, e) => worker.Append(e.Data);
        process.ErrorDataReceived += (_, e) => worker.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>Waits for the process to end by itself and returns its exit code; <paramref name="cancellationToken"/> bounds the wait.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await _process.WaitForExitAsync(timeout.Token);
        }

        _process.Dispose();
    }
}
