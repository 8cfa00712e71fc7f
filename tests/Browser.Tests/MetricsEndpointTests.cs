using System.Net.Http.Json;
using System.Text.Json;

namespace AIaaS.Queue.Browser.Tests;

/// <summary>The JSON and Prometheus endpoints behind the dashboard, on the same server the browser tests use.</summary>
[Collection(nameof(DashboardServer))]
public sealed class MetricsEndpointTests(DashboardServer server)
{
    [Fact]
    public async Task PrometheusScrapeShowsJobsByStatusBatchSizesQueueDelayAndModelTime()
    {
        using var http = new HttpClient { BaseAddress = server.Url };
        var text = await http.GetStringAsync("metrics", TestContext.Current.CancellationToken);

        Assert.Contains("aiaas_jobs_completed_total{", text, StringComparison.Ordinal);
        Assert.Contains("aiaas_job_status=\"Succeeded\"", text, StringComparison.Ordinal);
        Assert.Contains("aiaas_batch_size_bucket{", text, StringComparison.Ordinal);
        Assert.Contains("aiaas_job_queue_delay_seconds_bucket{", text, StringComparison.Ordinal);
        Assert.Contains("aiaas_model_execution_time_seconds_count{", text, StringComparison.Ordinal);
        Assert.Contains("aiaas_models_loaded", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThroughputWindowAndReadinessReflectTheBatchesRunAndTheModelsLoaded()
    {
        var ct = TestContext.Current.CancellationToken;
        using var http = new HttpClient { BaseAddress = server.Url };

        var throughput = await http.GetFromJsonAsync<JsonElement>("v1/ops/throughput?minutes=5", ct);
        var jobs = throughput.GetProperty("buckets").EnumerateArray().Sum(b => b.GetProperty("jobs").GetInt32());
        // The fixture's jobs: the classifier's and the scorer's, the failed ones, and the one explained job (its own model).
        Assert.Equal(server.SucceededJobs.Count + DashboardServer.FailedJobs + 1, jobs);
        Assert.Equal(3, throughput.GetProperty("models").GetArrayLength());

        var health = await http.GetFromJsonAsync<JsonElement>("health/ready", ct);
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        var checks = health.GetProperty("checks");
        Assert.Equal("Healthy", checks.GetProperty("store").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("masstransit-bus").GetProperty("status").GetString());
        var models = checks.GetProperty("models").GetProperty("description").GetString();
        Assert.Contains($"{DashboardServer.Classifier} v1 (cpu)", models, StringComparison.Ordinal);
        Assert.Contains($"{DashboardServer.Scorer} v1 (cpu)", models, StringComparison.Ordinal);

        var bad = await http.GetAsync("v1/ops/throughput?minutes=0", ct);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
    }
}
