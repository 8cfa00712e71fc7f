using System.Net;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>When the API runs open and when it requires keys, decided by configuration and by where it listens.</summary>
public sealed class ApiKeyPolicyTests : IAsyncDisposable
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-policy-");
    private readonly LogCapture _logs = new();
    private WebApplication? _app;

    private async Task<Uri> StartAsync(string urls, bool? requireApiKeys = null)
    {
        _app = AiaasServer.Build(new Dictionary<string, string?>
        {
            ["Urls"] = urls,
            ["Transport:Kind"] = "InMemory",
            ["ResultApi:HostWorkers"] = "false",
            ["Store:EmbeddedPath"] = Path.Combine(_data.FullName, "aiaas.db"),
            ["Security:RequireApiKeys"] = requireApiKeys?.ToString(),
            ["Logging:LogLevel:AIaaS.Queue"] = "Information",
        }, builder => builder.Logging.AddProvider(_logs));
        await _app.StartAsync(TestTimeout.After(30));

        // A wildcard address is reached through loopback.
        return new UriBuilder(_app.GetAddress()) { Host = "127.0.0.1" }.Uri;
    }

    [Fact]
    public async Task TheEmbeddedDefaultRunsOpenOnLoopbackAndSaysSo()
    {
        using var http = new HttpClient { BaseAddress = await StartAsync("http://127.0.0.1:0") };

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("v1/jobs", TestTimeout.After(30))).StatusCode);
        Assert.Contains("Open mode: no API keys required", _logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnApiListeningBeyondLoopbackRequiresKeys()
    {
        using var http = new HttpClient { BaseAddress = await StartAsync("http://0.0.0.0:0") };

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("v1/jobs", TestTimeout.After(30))).StatusCode);
        Assert.Contains("API keys required", _logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnApiToldToRunOpenRefusesToServeBeyondLoopback()
    {
        await StartAsync("http://0.0.0.0:0", requireApiKeys: false);

        Assert.True(_app!.Lifetime.ApplicationStopping.IsCancellationRequested);
        Assert.Contains("Not serving: Security:RequireApiKeys is false", _logs.Text, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _data.Delete(recursive: true);
    }
}
