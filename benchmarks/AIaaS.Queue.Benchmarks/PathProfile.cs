using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace AIaaS.Queue.Benchmarks;

/// <summary>
/// Where a job's time goes during one throughput run, without a profiler attached: CPU time per job of each process on
/// the path (from /proc, so it counts what the processes really spent, threads and GC included), the rest of the machine
/// (other users of the two cores), and the stages the worker and the API time themselves (the
/// <c>aiaas.path.stage_time</c> histogram and MassTransit's consume and receive durations, scraped from the Prometheus
/// listener of each process before and after the run).
/// </summary>
internal sealed class PathProfile
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK)

    private readonly Cluster _cluster;
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private Snapshot? _before;

    public PathProfile(Cluster cluster) => _cluster = cluster;

    private sealed record Snapshot(long Timestamp, Dictionary<string, double> Cpu, double MachineBusy, Dictionary<string, double> Worker,
        Dictionary<string, double> Api);

    public async Task StartAsync(CancellationToken cancellationToken) => _before = await TakeAsync(cancellationToken);

    /// <summary>The breakdown of the run since <see cref="StartAsync"/>, as markdown table rows, per job of <paramref name="jobs"/>.</summary>
    public async Task<Breakdown> StopAsync(int jobs, CancellationToken cancellationToken)
    {
        var after = await TakeAsync(cancellationToken);
        var before = _before ?? throw new InvalidOperationException("StartAsync first");
        var seconds = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds;
        var cpu = after.Cpu.ToDictionary(p => p.Key, p => (p.Value - before.Cpu.GetValueOrDefault(p.Key)) / jobs * 1e6);
        var ours = cpu.Values.Sum();
        var machine = (after.MachineBusy - before.MachineBusy) / jobs * 1e6;
        cpu["rest of the machine (other users of the cores)"] = Math.Max(0, machine - ours);
        var stages = new List<(string Name, double Count, double MicrosecondsPerJob)>();
        foreach (var (process, b, a) in new[] { ("worker", before.Worker, after.Worker), ("api", before.Api, after.Api) })
        {
            foreach (var (key, sum) in a.Where(p => p.Key.EndsWith("|sum", StringComparison.Ordinal)))
            {
                var name = key[..^4];
                var count = a.GetValueOrDefault(name + "|count") - b.GetValueOrDefault(name + "|count");
                var total = sum - b.GetValueOrDefault(key);
                if (count > 0)
                {
                    // Stage times are seconds; MassTransit's durations are milliseconds.
                    var scale = name.Contains("_seconds", StringComparison.Ordinal) ? 1e6 : 1e3;
                    stages.Add(($"{process}: {name}", count, total * scale / jobs));
                }
            }
        }

        return new Breakdown(jobs, seconds, cpu, machine, stages);
    }

    public sealed record Breakdown(int Jobs, double Seconds, Dictionary<string, double> CpuMicrosecondsPerJob, double MachineMicrosecondsPerJob,
        List<(string Name, double Count, double MicrosecondsPerJob)> Stages)
    {
        public string Markdown(string what = "one-record jobs")
        {
            var md = new StringBuilder();
            var wall = Seconds / Jobs * 1e6;
            md.AppendLine(CultureInfo.InvariantCulture, $"{Jobs:N0} {what} in {Seconds:F2} s: {Jobs / Seconds:F0} per second, {wall:F0} µs of wall time per job, {2 * wall:F0} µs of the two cores' time per job.")
                .AppendLine()
                .AppendLine("| CPU time per job, by process | µs per job | share of the cores' time |")
                .AppendLine("|---|---|---|");
            foreach (var (name, micros) in CpuMicrosecondsPerJob.OrderByDescending(p => p.Value))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {micros:F0} | {micros / (Environment.ProcessorCount * wall):P0} |");
            }

            md.AppendLine().AppendLine("| stage (timed inside the process; concurrent stages overlap, so these do not add up to wall time) | occurrences | µs per job | mean per occurrence (µs) |")
                .AppendLine("|---|---|---|---|");
            foreach (var (name, count, micros) in Stages.OrderByDescending(s => s.MicrosecondsPerJob))
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {count:N0} | {micros:F0} | {micros * Jobs / count:F0} |");
            }

            return md.ToString();
        }
    }

    private async Task<Snapshot> TakeAsync(CancellationToken cancellationToken)
    {
        var cpu = new Dictionary<string, double>
        {
            ["worker process"] = CpuSeconds(_cluster.Workers[0].ProcessId),
            ["ResultApi process"] = CpuSeconds(_cluster.Api.ProcessId),
            ["client (the SDK in the benchmark's process)"] = CpuSeconds(Environment.ProcessId),
            ["RabbitMQ (beam.smp)"] = BrokerPids().Sum(CpuSeconds),
        };
        return new Snapshot(Stopwatch.GetTimestamp(), cpu, MachineBusySeconds(),
            await ScrapeAsync(_cluster.WorkerMetricsPort, cancellationToken), await ScrapeAsync(_cluster.ApiMetricsPort, cancellationToken));
    }

    private static double CpuSeconds(int pid)
    {
        try
        {
            // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
        return (fields.Take(8).Sum() - fields[3] - fields[4]) / TicksPerSecond;
    }

    private static IEnumerable<int> BrokerPids()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var pid) && File.Exists($"{directory}/comm")
                && SafeRead($"{directory}/comm").Trim() == "beam.smp")
            {
                yield return pid;
            }
        }
    }

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>The stage and MassTransit duration histograms' sums and counts, keyed by metric and the labels that say
    /// which stage or consumer (scope and service labels dropped).</summary>
    private static async Task<Dictionary<string, double>> ScrapeAsync(int port, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, double>();
        var text = await Http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), cancellationToken);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !(line.Contains("aiaas_path_stage_time", StringComparison.Ordinal)
                || (line.Contains("masstransit", StringComparison.Ordinal) && line.Contains("duration", StringComparison.Ordinal))))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            var series = line[..space];
            var brace = series.IndexOf('{', StringComparison.Ordinal);
            var metric = brace < 0 ? series : series[..brace];
            string kind;
            if (metric.EndsWith("_sum", StringComparison.Ordinal))
            {
                kind = "sum";
            }
            else if (metric.EndsWith("_count", StringComparison.Ordinal))
            {
                kind = "count";
            }
            else
            {
                continue;
            }

            var labels = brace < 0 ? "" : string.Join(",", series[(brace + 1)..^1].Split("\",").Select(l => l.TrimEnd('"'))
                .Where(l => l.Contains("stage", StringComparison.Ordinal) || l.Contains("consumer_type", StringComparison.Ordinal)
                    || l.Contains("message_type", StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf('=', StringComparison.Ordinal) + 1)..].Trim('"')));
            var key = $"{metric[..metric.LastIndexOf('_')]} {labels}|{kind}";
            values[key] = values.GetValueOrDefault(key) + double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return values;
    }
}
