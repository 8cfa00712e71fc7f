using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace AIaaS.Queue.Browser.Tests;

/// <summary>The dashboard in a real browser: it loads, filters jobs, opens one, and leaves a screenshot behind.</summary>
[Collection(nameof(DashboardServer))]
public sealed partial class DashboardTests(DashboardServer server) : IAsyncLifetime
{
    private IBrowserContext _context = null!;
    private IPage _page = null!;
    private readonly List<string> _scriptErrors = [];

    public async ValueTask InitializeAsync()
    {
        _context = await server.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        _context.SetDefaultTimeout(15_000);
        _page = await _context.NewPageAsync();
        _page.PageError += (_, error) => _scriptErrors.Add(error);
        _page.Console += (_, message) =>
        {
            // A 404 is how the page learns that an optional endpoint (a job's event log) or a job id is absent.
            if (message.Type == "error" && !message.Text.Contains("404", StringComparison.Ordinal))
            {
                _scriptErrors.Add(message.Text);
            }
        };
    }

    public async ValueTask DisposeAsync() => await _context.CloseAsync();

    private ILocator JobRows => _page.Locator("#jobs-table tbody tr[data-job-id]");

    [Fact]
    public async Task DashboardLoadsFiltersJobsAndOpensAJobWithItsOutput()
    {
        await _page.GotoAsync(new Uri(server.Url, "dashboard").ToString());

        // Everything the page shows comes from the API: jobs, models, health, throughput from the batch events.
        await Assertions.Expect(JobRows.First).ToBeVisibleAsync();
        await Assertions.Expect(_page.Locator("#health")).ToHaveTextAsync("Healthy");
        await Assertions.Expect(_page.Locator("#models-table")).ToContainTextAsync(DashboardServer.Classifier);
        await Assertions.Expect(_page.Locator("#models-table")).ToContainTextAsync(DashboardServer.Scorer);
        await Assertions.Expect(_page.Locator("#stat-jobs")).Not.ToHaveTextAsync("0");
        await Assertions.Expect(_page.Locator("#queues-source")).ToHaveTextAsync("in-memory");

        // Filter: failed jobs only.
        await _page.SelectOptionAsync("#status-filter", "Failed");
        await _page.ClickAsync("#apply-filters");
        await Assertions.Expect(JobRows).ToHaveCountAsync(DashboardServer.FailedJobs);
        Assert.All(await JobRows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.status)"), s => Assert.Equal("Failed", s));
        Assert.Contains("status=Failed", _page.Url, StringComparison.Ordinal);

        // Open a failed job: its reason is shown.
        await JobRows.First.ClickAsync();
        await Assertions.Expect(_page.Locator("#job-detail")).ToBeVisibleAsync();
        await Assertions.Expect(_page.Locator("#job-detail-status")).ToHaveTextAsync("Failed");
        await Assertions.Expect(_page.Locator("#job-error")).ToContainTextAsync("has 3 values");

        // Filter by model and status: succeeded jobs of the scorer only.
        await _page.SelectOptionAsync("#status-filter", "Succeeded");
        await _page.SelectOptionAsync("#model-filter", DashboardServer.Scorer);
        await _page.ClickAsync("#apply-filters");
        await Assertions.Expect(JobRows).ToHaveCountAsync(12);
        Assert.All(await JobRows.Locator("td:nth-child(3)").AllInnerTextsAsync(), m => Assert.StartsWith(DashboardServer.Scorer, m, StringComparison.Ordinal));

        // Open a succeeded job: timeline, its batch as the worker reported it, and an output preview.
        await _page.SelectOptionAsync("#model-filter", DashboardServer.Classifier);
        await _page.ClickAsync("#apply-filters");
        await Assertions.Expect(JobRows.First).ToContainTextAsync(DashboardServer.Classifier);
        var jobId = await JobRows.First.GetAttributeAsync("data-job-id");
        await JobRows.First.ClickAsync();
        await Assertions.Expect(_page.Locator("#job-detail-id")).ToHaveTextAsync(jobId!);
        await Assertions.Expect(_page.Locator("#job-detail-status")).ToHaveTextAsync("Succeeded");
        await Assertions.Expect(_page.Locator("#job-timeline")).ToContainTextAsync("completed");
        await Assertions.Expect(_page.Locator("#job-events")).ToContainTextAsync(BatchEvent());
        await Assertions.Expect(_page.Locator(".output-preview")).ToContainTextAsync(NumberList());
        Assert.EndsWith($"#job={jobId}", _page.Url, StringComparison.Ordinal);

        var screenshot = await _page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true });
        var path = SaveArtifact("dashboard.png", screenshot);
        TestContext.Current.AddAttachment("dashboard.png", screenshot, "image/png");
        TestContext.Current.SendDiagnosticMessage($"Dashboard screenshot: {path}");
        Assert.True(screenshot.Length > 10_000, "The screenshot should show a rendered page.");
        Assert.Empty(_scriptErrors);
    }

    [Fact]
    public async Task AnExplainedJobShowsABarChartPerOutputWithFeaturesByAbsoluteAttribution()
    {
        var id = server.ExplainedJob;
        await _page.GotoAsync(new Uri(server.Url, $"dashboard#job={id}").ToString());
        await Assertions.Expect(_page.Locator("#job-detail-status")).ToHaveTextAsync("Succeeded");
        await Assertions.Expect(_page.Locator(".explanation")).ToContainTextAsync("kernel-shap, exact, 30 coalitions, 30 background rows");

        var charts = _page.Locator("svg.explanation-chart");
        await Assertions.Expect(charts).ToHaveCountAsync(2);
        var labels = await charts.First.Locator("text").AllTextContentsAsync();
        var bars = await charts.First.Locator("rect title").AllTextContentsAsync();
        Assert.Equal(["age", "balance", "income", "tenure", "visits"], labels.Order(StringComparer.Ordinal));
        var magnitudes = bars.Select(t => Math.Abs(double.Parse(t[(t.IndexOf(':', StringComparison.Ordinal) + 2)..], System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        Assert.Equal(magnitudes.OrderDescending(), magnitudes);
        Assert.Empty(_scriptErrors);
    }

    [Fact]
    public async Task AJobLinkOpensTheJobDirectlyAndAnUnknownIdSaysSo()
    {
        var id = server.SucceededJobs[0];
        await _page.GotoAsync(new Uri(server.Url, $"dashboard#job={id}").ToString());
        await Assertions.Expect(_page.Locator("#job-detail-status")).ToHaveTextAsync("Succeeded");
        await Assertions.Expect(_page.Locator("#job-detail-fields")).ToContainTextAsync("cpu");

        await _page.FillAsync("#job-id", Guid.NewGuid().ToString());
        await _page.ClickAsync("#apply-filters");
        await Assertions.Expect(_page.Locator("#job-detail-status")).ToHaveTextAsync("not found");
        await Assertions.Expect(_page.Locator("#job-detail-fields")).ToContainTextAsync("No job with id");
        Assert.Empty(_scriptErrors);
    }

    /// <summary>Under the test project's TestResults folder (or <c>AIAAS_TEST_ARTIFACTS</c>), kept after the run.</summary>
    private static string SaveArtifact(string name, byte[] content)
    {
        var directory = Environment.GetEnvironmentVariable("AIAAS_TEST_ARTIFACTS") ?? Path.Combine(ProjectDirectory(), "TestResults");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private static string ProjectDirectory()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && directory.GetFiles("*.csproj").Length == 0)
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? AppContext.BaseDirectory;
    }

    [GeneratedRegex(@"batch of \d+ ran on \S+ \(cpu\)")]
    private static partial Regex BatchEvent();

    [GeneratedRegex(@"\[\d\.\d+, \d\.\d+, \d\.\d+\]")]
    private static partial Regex NumberList();
}
