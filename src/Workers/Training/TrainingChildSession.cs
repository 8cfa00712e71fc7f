using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using AIaaS.Queue.Training;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Workers.Training;

/// <summary>
/// One run of the training child process: its stdout read as protocol messages (other lines are native libraries'
/// own), the last lines of its stderr kept for the failure reason, and the whole process tree ended when asked.
/// </summary>
internal sealed class TrainingChildSession(ProcessStartInfo start, ILogger logger) : IDisposable
{
    private const int StderrLinesKept = 40;
    private readonly Process _process = new() { StartInfo = start };
    private readonly ConcurrentQueue<string> _stderr = new();

    public int ProcessId => _process.Id;

    public int ExitCode => _process.ExitCode;

    public void Start()
    {
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _stderr.Enqueue(e.Data);
                while (_stderr.Count > StderrLinesKept && _stderr.TryDequeue(out string? _))
                {
                }
            }
        };
        _process.Start();
        _process.BeginErrorReadLine();
    }

    /// <summary>Ends the child (and anything it started) once <paramref name="stop"/> fires.</summary>
    public CancellationTokenRegistration KillOn(CancellationToken stop) => stop.Register(KillQuietly);

    /// <summary>Hands each protocol message to <paramref name="onMessage"/> until stdout closes, then waits for the exit.</summary>
    public async Task ReadMessagesAsync(Action<ChildMessage> onMessage)
    {
        while (await _process.StandardOutput.ReadLineAsync(CancellationToken.None).ConfigureAwait(false) is { } line)
        {
            if (line.StartsWith('{') && Parse(line) is { } message)
            {
                onMessage(message);
            }
        }

        await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Why a child that exited without a result did so, for the job's events and error.</summary>
    public string ExitReason(int attempt)
    {
        var exit = _process.ExitCode;
        return $"the training process (pid {_process.Id}) exited with code {exit}"
            + (exit > 128 ? $" (signal {exit - 128}{(exit == 137 ? ", killed" : "")})" : "")
            + $" without a result on attempt {attempt}"
            + (_stderr.IsEmpty ? "" : $"; last output: {string.Join(" | ", _stderr.TakeLast(3))}");
    }

    public void Dispose() => _process.Dispose();

    private static ChildMessage? Parse(string line)
    {
        try
        {
            return JsonSerializer.Deserialize<ChildMessage>(line, ChildMessage.JsonOptions);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void KillQuietly()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            logger.LogDebug(ex, "Training process already gone");
        }
    }
}
