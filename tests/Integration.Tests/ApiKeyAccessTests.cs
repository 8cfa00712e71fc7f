using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Server;
using Microsoft.AspNetCore.Builder;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>Who reaches what, with keys required and on the open default: every kind of caller (no key, an unknown key, a
/// tenant's key, the admin key) against every kind of endpoint, with the status and the problem title each gets.</summary>
public sealed class ApiKeyAccessTests : IAsyncDisposable
{
    private const string NoKey = "none";
    private const string UnknownKey = "unknown";
    private const string TenantKey = "tenant";
    private const string AdminKey = "admin";

    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("aiaas-access-");
    private readonly string _adminKey = "admin-" + Guid.NewGuid().ToString("N");
    private WebApplication? _app;

    private async Task<Func<string, HttpClient>> StartAsync(bool requireApiKeys)
    {
        _app = AiaasServer.Build(new Dictionary<string, string?>
        {
            ["Transport:Kind"] = "InMemory",
            ["ResultApi:HostWorkers"] = "false",
            ["Store:EmbeddedPath"] = Path.Combine(_data.FullName, "aiaas.db"),
            ["Security:AdminKey"] = _adminKey,
            ["Security:RequireApiKeys"] = requireApiKeys.ToString(),
        });
        var ct = TestTimeout.After(30);
        await _app.StartAsync(ct);
        var url = _app.GetAddress();

        HttpClient Http(string? key)
        {
            var http = new HttpClient { BaseAddress = url };
            if (key is not null)
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }

            return http;
        }

        using var admin = Http(_adminKey);
        (await admin.PostAsJsonAsync("v1/admin/tenants", new { id = "acme" }, ct)).EnsureSuccessStatusCode();
        var created = await admin.PostAsJsonAsync("v1/admin/tenants/acme/keys", new { name = "test" }, ct);
        var tenantKey = (await created.Content.ReadFromJsonAsync<ApiKeyView>(WireJson.Options, ct))!.Key!;
        var keys = new Dictionary<string, string?>
        {
            [NoKey] = null,
            [UnknownKey] = $"aiaas_acme_{Guid.NewGuid():N}_{new string('0', 64)}",
            [TenantKey] = tenantKey,
            [AdminKey] = _adminKey,
        };
        return caller => Http(keys[caller]);
    }

    [Theory]
    [InlineData("v1/jobs", NoKey, 401, "API key required")]
    [InlineData("v1/jobs", UnknownKey, 401, "Invalid API key")]
    [InlineData("v1/jobs", TenantKey, 200, null)]
    [InlineData("v1/jobs", AdminKey, 403, "Tenant key required")]
    [InlineData("v1/models/any/admission", AdminKey, 403, "Tenant key required")]
    [InlineData("v1/datasets/x", TenantKey, 404, "Unknown dataset")]
    [InlineData("v1/admin/tenants", NoKey, 401, "API key required")]
    [InlineData("v1/admin/tenants", UnknownKey, 401, "Invalid API key")]
    [InlineData("v1/admin/tenants", TenantKey, 403, "Admin key required")]
    [InlineData("v1/admin/tenants", AdminKey, 200, null)]
    [InlineData("v1/ops/throughput", NoKey, 401, "API key required")]
    [InlineData("v1/ops/throughput", TenantKey, 403, "Admin key required")]
    [InlineData("v1/ops/throughput", AdminKey, 200, null)]
    [InlineData("metrics", UnknownKey, 401, "Invalid API key")]
    [InlineData("metrics", TenantKey, 403, "Admin key required")]
    [InlineData("metrics", AdminKey, 200, null)]
    [InlineData("health/live", UnknownKey, 200, null)]
    [InlineData("dashboard", NoKey, 200, null)]
    [InlineData("dashboard/dashboard.js", UnknownKey, 200, null)]
    [InlineData("no/such/path", NoKey, 401, "API key required")]
    [InlineData("no/such/path", TenantKey, 404, null)]
    public Task WithKeysRequired(string path, string caller, int status, string? title) => AssertAccessAsync(true, path, caller, status, title);

    [Theory]
    [InlineData("v1/jobs", NoKey, 200, null)]
    [InlineData("v1/jobs", UnknownKey, 401, "Invalid API key")]
    [InlineData("v1/jobs", TenantKey, 200, null)]
    [InlineData("v1/jobs", AdminKey, 403, "Tenant key required")]
    [InlineData("v1/admin/tenants", NoKey, 401, "API key required")]
    [InlineData("v1/admin/tenants", UnknownKey, 401, "Invalid API key")]
    [InlineData("v1/admin/tenants", TenantKey, 403, "Admin key required")]
    [InlineData("v1/admin/tenants", AdminKey, 200, null)]
    [InlineData("v1/ops/throughput", NoKey, 200, null)]
    [InlineData("v1/ops/throughput", UnknownKey, 401, "Invalid API key")]
    [InlineData("v1/ops/throughput", TenantKey, 200, null)]
    [InlineData("v1/ops/throughput", AdminKey, 200, null)]
    [InlineData("metrics", NoKey, 200, null)]
    [InlineData("metrics", TenantKey, 200, null)]
    [InlineData("health/ready", UnknownKey, 200, null)]
    [InlineData("dashboard", UnknownKey, 200, null)]
    [InlineData("no/such/path", NoKey, 404, null)]
    public Task OnTheOpenDefault(string path, string caller, int status, string? title) => AssertAccessAsync(false, path, caller, status, title);

    [Fact]
    public async Task ATenantKeyActsForItsTenantAndNoKeyOnTheOpenDefaultForTheDefaultTenant()
    {
        var http = await StartAsync(requireApiKeys: false);
        var ct = TestTimeout.After(30);
        using var tenant = http(TenantKey);
        using var anonymous = http(NoKey);

        var upload = await tenant.PostAsync("v1/datasets?name=a.csv", new StringContent("x,y\n1,2\n"), ct);
        var id = (await upload.Content.ReadFromJsonAsync<JsonNode>(ct))!["id"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.OK, (await tenant.GetAsync($"v1/datasets/{id}", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync($"v1/datasets/{id}", ct)).StatusCode);
    }

    private async Task AssertAccessAsync(bool requireApiKeys, string path, string caller, int status, string? title)
    {
        var http = await StartAsync(requireApiKeys);
        using var client = http(caller);

        using var response = await client.GetAsync(path, TestTimeout.After(30));

        Assert.Equal(status, (int)response.StatusCode);
        if (title is not null)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(title, (await response.Content.ReadFromJsonAsync<JsonNode>(TestTimeout.After(30)))!["title"]!.GetValue<string>());
        }

        if (status == 401)
        {
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
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
