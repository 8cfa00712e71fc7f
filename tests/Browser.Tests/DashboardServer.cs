using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace AIaaS.Queue.Browser.Tests;

/// <summary>
/// A real server on a loopback port (<c>src/Server</c> on the embedded default: the ResultApi and the workers in one process) holding a few finished
/// jobs of two models, and Debian's Chromium driven by Playwright. Playwright's own browser download is not used:
/// the browser is the system's <c>/usr/bin/chromium</c> (override with <c>AIAAS_TEST_CHROMIUM</c>).
/// </summary>
[CollectionDefinition(nameof(DashboardServer))]
public sealed class DashboardCollection : ICollectionFixture<DashboardServer>;

public sealed class DashboardServer : IAsyncLifetime
{
    public const string Classifier = "iris-demo";
    public const string Scorer = "churn-scorer";
    public const string Explained = "credit-explained";
    public const int FailedJobs = 3;

    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-browser-");
    private WebApplication _app = null!;
    private IPlaywright _playwright = null!;

    public Uri Url { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public IReadOnlyList<Guid> SucceededJobs { get; private set; } = [];
    public IReadOnlyList<Guid> FailedJobIds { get; private set; } = [];

    /// <summary>A job that asked for an explanation of a model registered with background data.</summary>
    public Guid ExplainedJob { get; private set; }

    public async ValueTask InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        _app = AiaasServer.Build(new Dictionary<string, string?>
            {
                ["Transport:Kind"] = "InMemory",
                ["Store:Kind"] = "Embedded",
                ["Store:EmbeddedPath"] = Path.Combine(_data.FullName, "aiaas.db"),
                ["Workers:ModelCacheDirectory"] = Path.Combine(_data.FullName, "models"),
                ["Workers:WorkerId"] = "worker-embedded",
            },
            builder =>
            {
                builder.Services.AddAiaasClient(_ => { });
                builder.Services.AddOptions<AiaasClientOptions>().PostConfigure<IServer>((options, server) => options.ApiUrl = server.GetAddress());
            });
        await _app.StartAsync(timeout.Token);
        Url = _app.GetAddress();
        await SubmitJobsAsync(timeout.Token);

        // Playwright launches the browser with a fresh temporary profile of its own (it rejects --user-data-dir).
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("AIAAS_TEST_CHROMIUM") ?? "/usr/bin/chromium",
            Headless = true,
            Args =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        });
    }

    private async Task SubmitJobsAsync(CancellationToken cancellationToken)
    {
        var client = _app.Services.GetRequiredService<IAiaasClient>();
        var classifier = MlpModel.CreateRandom(4, [16], 3, Activation.Relu, OutputActivation.Softmax, seed: 5);
        await client.RegisterModelAsync(Classifier, new MemoryStream(OnnxModelWriter.Write(classifier)),
            new BatchingSettings { MaxBatchSize = 16, MaxQueueDelayMilliseconds = 10 }, "4 features → 3 classes", cancellationToken);
        var scorer = MlpModel.CreateRandom(6, [8], 1, Activation.Tanh, OutputActivation.Sigmoid, seed: 6);
        await client.RegisterModelAsync(Scorer, new MemoryStream(OnnxModelWriter.Write(scorer)), cancellationToken: cancellationToken);

        var random = new Random(3);
        float[] Record(int length) => [.. Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 6 - 3))];
        var good = Enumerable.Range(0, 60).Select(_ => new PredictRequest { Model = Classifier, Features = Record(4) })
            .Concat(Enumerable.Range(0, 12).Select(_ => new PredictRequest { Model = Scorer, Features = Record(6) }))
            .ToList();
        var bad = Enumerable.Range(0, FailedJobs).Select(_ => new PredictRequest { Model = Classifier, Features = Record(3) }).ToList();

        var goodIds = await client.SubmitPredictManyAsync(good, cancellationToken);
        var badIds = await client.SubmitPredictManyAsync(bad, cancellationToken);
        await Task.WhenAll(goodIds.Concat(badIds).Select(id => client.WaitForCompletionAsync(id, cancellationToken)));
        SucceededJobs = goodIds;
        FailedJobIds = badIds;

        var explained = MlpModel.CreateRandom(5, [8], 2, Activation.Relu, OutputActivation.Softmax, seed: 7);
        var background = "age,income,tenure,balance,visits\n" + string.Concat(Enumerable.Range(0, 30).Select(_ => string.Join(',', Record(5).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "\n"));
        await client.RegisterModelWithBackgroundAsync(Explained, new MemoryStream(OnnxModelWriter.Write(explained)),
            new MemoryStream(System.Text.Encoding.UTF8.GetBytes(background)), cancellationToken: cancellationToken);
        ExplainedJob = await client.SubmitPredictAsync(new PredictRequest { Model = Explained, Features = Record(5), Explain = new ExplainOptions() }, cancellationToken);
        await client.WaitForCompletionAsync(ExplainedJob, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _data.Delete(recursive: true);
    }
}
