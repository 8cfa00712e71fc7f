using System.Globalization;
using System.Text;

namespace AIaaS.Queue.Benchmarks;

/// <summary>Prints the figures and writes <c>docs/benchmarks/results.md</c> and <c>chart.svg</c>.</summary>
internal sealed class Report
{
    private readonly List<(string Name, string Measured, double? Ratio, double? Goal)> _figures = [];

    public void Figure(string name, string measured, double? ratio, double? goal)
    {
        _figures.Add((name, measured, ratio, goal));
        Console.WriteLine(Line(name, measured, ratio, goal));
    }

    /// <summary>Replaces the README's text between <c>&lt;!-- bench:key --&gt;</c> and <c>&lt;!-- /bench:key --&gt;</c> with
    /// <paramref name="markdown"/>, so that a figure run alone (<c>--encryption-only</c> and the like) lands in the README itself.</summary>
    public static void Readme(string key, string markdown)
    {
        var path = Path.Combine(TestSupport.Repository.Root.FullName, "README.md");
        var text = File.ReadAllText(path);
        string begin = $"<!-- bench:{key} -->", end = $"<!-- /bench:{key} -->";
        var from = text.IndexOf(begin, StringComparison.Ordinal);
        var to = text.IndexOf(end, StringComparison.Ordinal);
        if (from < 0 || to < from)
        {
            Console.WriteLine($"README.md has no {begin} ... {end} section; not written");
            return;
        }

        File.WriteAllText(path, text[..(from + begin.Length)] + "\n" + markdown.TrimEnd() + "\n" + text[to..]);
        Console.WriteLine($"wrote the {key} section of README.md");
    }

    /// <summary>The 1, 5 and 15 minute load averages: how busy the shared machine was while a figure was measured.</summary>
    public static string LoadAverage() => string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    public void Missing(string name, string why) => Figure(name, $"not measured: {why}", null, null);

    private static string Line(string name, string measured, double? ratio, double? goal) => FormattableString.Invariant(
        $"{name}: {measured}{(ratio is null ? "" : $"; ratio {ratio:F2}")}{(goal is null ? "" : $" (goal ≥ {goal:0.##}: {(ratio >= goal ? "met" : "not met")})")}");

    public void Write(int jobs, int rounds, List<(int Size, double JobsPerSecond)> curve, double[] latency, double bound)
    {
        var directory = Path.Combine(TestSupport.Repository.Root.FullName, "docs", "benchmarks");
        Directory.CreateDirectory(directory);
        var md = new StringBuilder();
        md.AppendLine("# Benchmark results").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Written by `dotnet run -c Release --project benchmarks/AIaaS.Queue.Benchmarks` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC: ");
        md.AppendLine(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}, RabbitMQ on the same machine, ");
        md.AppendLine(CultureInfo.InvariantCulture, $"workers and ResultApi as separate processes sharing the embedded store; {jobs} jobs per measurement, {rounds} alternated round(s).").AppendLine();
        md.AppendLine("| figure | measured | ratio | goal |").AppendLine("|---|---|---|---|");
        foreach (var (name, measured, ratio, goal) in _figures)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {measured} | {(ratio is null ? "" : ratio.Value.ToString("F2", CultureInfo.InvariantCulture))} | {(goal is null ? "" : $"≥ {goal:0.##} {(ratio >= goal ? "✓" : "✗")}")} |");
        }

        md.AppendLine().AppendLine("![throughput by max batch size, latency percentiles](chart.svg)");
        File.WriteAllText(Path.Combine(directory, "results.md"), md.ToString());
        File.WriteAllText(Path.Combine(directory, "chart.svg"), Chart(curve, latency, bound));
        Console.WriteLine($"wrote {Path.Combine(directory, "results.md")} and chart.svg");
    }

    private static string Chart(List<(int Size, double JobsPerSecond)> curve, double[] latency, double bound)
    {
        var svg = new StringBuilder();
        svg.Append("""<svg xmlns="http://www.w3.org/2000/svg" width="820" height="340" font-family="sans-serif" font-size="12">""");
        svg.Append("""<rect width="820" height="340" fill="white"/>""");
        Bars(svg, 20, "throughput (jobs/s) by max batch size, 32-512-512-512-10 MLP",
            curve.Select(c => (c.Size.ToString(CultureInfo.InvariantCulture), c.JobsPerSecond)).ToList(), "#4878a8", null);
        Bars(svg, 440, "predict latency at half max throughput (ms)",
            [("p50", latency[0]), ("p95", latency[1]), ("p99", latency[2]), ("bound", bound)], "#a85848", "bound");
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static void Bars(StringBuilder svg, int left, string title, List<(string Label, double Value)> bars, string color, string? highlight)
    {
        const int top = 40, height = 240, width = 360;
        var max = Math.Max(bars.Max(b => b.Value), 1e-9);
        var slot = width / bars.Count;
        svg.Append(CultureInfo.InvariantCulture, $"""<text x="{left}" y="20" font-weight="bold">{title}</text>""");
        svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" stroke="#333"/>""");
        for (var i = 0; i < bars.Count; i++)
        {
            var h = bars[i].Value / max * (height - 20);
            var x = left + i * slot + slot * 0.15;
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{x:F1}" y="{top + height - h:F1}" width="{slot * 0.7:F1}" height="{h:F1}" fill="{(bars[i].Label == highlight ? "#999" : color)}"/>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x + slot * 0.35:F1}" y="{top + height - h - 4:F1}" text-anchor="middle">{bars[i].Value:0.#}</text>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{x + slot * 0.35:F1}" y="{top + height + 16}" text-anchor="middle">{bars[i].Label}</text>""");
        }
    }
}
