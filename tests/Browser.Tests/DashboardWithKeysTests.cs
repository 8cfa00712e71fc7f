using System.Net.Http.Headers;
using System.Net.Http.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;

namespace AIaaS.Queue.Browser.Tests;

/// <summary>The dashboard where keys are required: it asks for a key once and then shows that tenant's jobs and models.</summary>
[Collection(nameof(DashboardServer))]
public sealed class DashboardWithKeysTests(DashboardServer browserHost) : IAsyncLifetime
{
    private static readonly float[] Record = [1f, 2f, 3f, 4f];
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-browser-keys-");
    private readonly string _adminKey = "admin-" + Guid.NewGuid().ToString("N");
    private WebApplication _app = null!;

    public async ValueTask InitializeAsync()
    {
        _app = AiaasServer.Build(new Dictionary<string, string?>
        {
            ["Transport:Kind"] = "InMemory",
            ["Store:EmbeddedPath"] = Path.Combine(_data.FullName, "aiaas.db"),
            ["Workers:ModelCacheDirectory"] = Path.Combine(_data.FullName, "models"),
            ["Security:AdminKey"] = _adminKey,
        });
        await _app.StartAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _data.Delete(recursive: true);
    }

    [Fact]
    public async Task TheDashboardAsksForAKeyAndShowsThatTenantsJobs()
    {
        var ct = TestContext.Current.CancellationToken;
        var url = _app.GetAddress();
        using var admin = new HttpClient { BaseAddress = url };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _adminKey);
        (await admin.PostAsJsonAsync("v1/admin/tenants", new { id = "acme" }, ct)).EnsureSuccessStatusCode();
        var key = (await (await admin.PostAsJsonAsync("v1/admin/tenants/acme/keys", new { name = "browser" }, ct))
            .Content.ReadFromJsonAsync<ApiKeyView>(WireJson.Options, ct))!.Key!;
        using var tenant = new HttpClient { BaseAddress = url };
        tenant.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var mlp = MlpModel.CreateRandom(4, [8], 3, Activation.Relu, OutputActivation.Softmax, seed: 9);
        (await tenant.PutAsync("v1/models/acme-model", new ByteArrayContent(OnnxModelWriter.Write(mlp)), ct)).EnsureSuccessStatusCode();
        (await tenant.PostAsJsonAsync("v1/jobs", new { model = "acme-model", features = Record }, ct)).EnsureSuccessStatusCode();

        await using var context = await browserHost.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var prompts = 0;
        page.Dialog += async (_, dialog) =>
        {
            prompts++;
            await dialog.AcceptAsync(key);
        };
        await page.GotoAsync(new Uri(url, "dashboard").ToString());

        await Assertions.Expect(page.Locator("#jobs-table tbody tr[data-job-id]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#models-table")).ToContainTextAsync("acme-model");
        Assert.Equal(1, prompts);
    }
}
