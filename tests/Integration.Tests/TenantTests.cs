using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.ResultApi.Webhooks;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The broker system with keys required: an admin key in the API's configuration (which alone makes keys required), workers
/// told to require keys, a webhook secret, and a broker user whose password only this fixture knows. Every log line of the
/// API and the SDK clients is captured at Debug level, and the workers log at Debug level too.
/// </summary>
public sealed class TenantSystem : DistributedSystem
{
    public string AdminKey { get; } = "admin-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    public string WebhookSecret { get; } = WebhookSigner.NewSecret();
    public string BrokerPassword { get; } = "pw-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    public LogCapture Logs { get; } = new();

    protected override Task<Uri> ConnectBrokerAsync(CancellationToken cancellationToken) =>
        Broker.CreateUserAsync($"user-{Broker.VirtualHost}", BrokerPassword, cancellationToken);

    protected override IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>
    {
        ["Security:AdminKey"] = AdminKey,
        ["Webhooks:Secrets:0"] = WebhookSecret,
        ["Webhooks:AllowedHosts:0"] = "127.0.0.1",
        ["Webhooks:PollInterval"] = "00:00:00.250",
        ["Logging:LogLevel:Default"] = "Debug",
    };

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Security__RequireApiKeys"] = "true",
        ["Logging__LogLevel__Default"] = "Debug",
        ["Training__HeartbeatInterval"] = "00:00:00.200",
        ["Training__WorkDirectory"] = Path.Combine(DataDirectory.FullName, "training"),
    };

    protected override void ConfigureApi(WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(Logs);
    }

    protected override void ConfigureClient(HostApplicationBuilder builder)
    {
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        // The test host's appsettings.json (copied from the API) sets Information by default, which wins over the minimum level.
        builder.Logging.AddFilter("AIaaS.Queue", LogLevel.Debug);
        builder.Logging.AddProvider(Logs);
    }

    /// <summary>An HTTP client for the API sending <paramref name="key"/> as its bearer token (none when null).</summary>
    public HttpClient Http(string? key)
    {
        var http = new HttpClient { BaseAddress = ApiUrl };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return http;
    }

    /// <summary>A new tenant and one API key for it, made through the admin API.</summary>
    public async Task<TestTenant> CreateTenantAsync(string prefix, CancellationToken ct)
    {
        using var admin = Http(AdminKey);
        var id = $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
        (await admin.PostAsJsonAsync("v1/admin/tenants", new { id, name = prefix }, ct)).EnsureSuccessStatusCode();
        var created = await admin.PostAsJsonAsync($"v1/admin/tenants/{id}/keys", new { name = "test" }, ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<ApiKeyView>(WireJson.Options, ct))!;
        return new TestTenant(id, key.Key!, key.KeyId, await StartClientAsync(key.Key, ct), Http(key.Key));
    }
}

public sealed record TestTenant(string Id, string Key, string KeyId, IAiaasClient Client, HttpClient Http);

/// <summary>Tenants and API keys on the real broker: isolation on every endpoint, 401 and 403, hashes only in the store,
/// workers refusing commands whose key does not match, and no secret in any log.</summary>
public sealed class TenantTests(TenantSystem system) : IClassFixture<TenantSystem>
{
    private static readonly float[] Record = [0.5f, -1.25f, 3f, 2f];

    [Fact]
    public async Task ASubmitWithAMistypedKeyFailsAtOnceInsteadOfWaitingForAJobThatNeverAppears()
    {
        var ct = TestTimeout.After(60);
        var tenant = await system.CreateTenantAsync("typo", ct);
        var mistyped = tenant.Key[..^1] + (tenant.Key[^1] == 'a' ? 'b' : 'a');
        var client = await system.StartClientAsync(mistyped, ct);

        // Over the broker: the workers would refuse the command's proof and dead-letter it, so the SDK asks first.
        var refused = await Assert.ThrowsAsync<AiaasApiException>(() => client.SubmitPredictAsync(new PredictRequest { Model = "any", Features = Record }, ct));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Invalid API key", refused.Title);
    }

    [Fact]
    public async Task RequestsWithoutAValidKeyAreRefusedWith401ProblemDetails()
    {
        var ct = TestTimeout.After(60);
        var tenant = await system.CreateTenantAsync("anon", ct);
        using var admin = system.Http(system.AdminKey);
        (await admin.DeleteAsync($"v1/admin/tenants/{tenant.Id}/keys/{tenant.KeyId}", ct)).EnsureSuccessStatusCode();
        var forged = $"aiaas_{tenant.Id}_{tenant.KeyId}_{new string('0', 64)}";

        foreach (var key in new[] { null, "not-a-key", forged, tenant.Key })
        {
            using var http = system.Http(key);
            foreach (var path in new[] { "v1/jobs", "v1/models", $"v1/jobs/{Guid.NewGuid()}", "v1/datasets/x" })
            {
                using var response = await http.GetAsync(path, ct);
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
            }
        }

        using var anonymous = system.Http(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("health/live", ct)).StatusCode);
    }

    [Fact]
    public async Task AdminAndOperationsEndpointsTakeOnlyTheAdminKeyAndTheAdminKeyReadsNoTenantData()
    {
        var ct = TestTimeout.After(60);
        var tenant = await system.CreateTenantAsync("ops", ct);
        using var admin = system.Http(system.AdminKey);

        foreach (var path in new[] { "v1/admin/tenants", $"v1/admin/tenants/{tenant.Id}/keys", "v1/ops/queues", "v1/ops/throughput", "metrics" })
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Http.GetAsync(path, ct)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(path, ct)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Forbidden, (await tenant.Http.PostAsJsonAsync("v1/admin/tenants", new { id = "mine" }, ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await admin.GetAsync("v1/jobs", ct)).StatusCode);
        var keys = await admin.GetFromJsonAsync<List<ApiKeyView>>($"v1/admin/tenants/{tenant.Id}/keys", WireJson.Options, ct);
        Assert.Equal(tenant.KeyId, Assert.Single(keys!).KeyId);
        Assert.Null(keys![0].Key);

        // Readiness answers probes without a key, but names the loaded models (so tenants) to the admin key only.
        var probe = await tenant.Http.GetFromJsonAsync<JsonNode>("health/ready", ct);
        var operatorView = await admin.GetFromJsonAsync<JsonNode>("health/ready", ct);
        Assert.Null(probe!["checks"]!["models"]!["description"]);
        Assert.NotNull(operatorView!["checks"]!["models"]!["description"]);
    }

    [Fact]
    public async Task KeysAreStoredOnlyAsHashes()
    {
        var ct = TestTimeout.After(60);
        var tenant = await system.CreateTenantAsync("hash", ct);

        var stored = ReadStoreFiles();
        Assert.Contains(ApiKeyFormat.Hash(tenant.Key), stored, StringComparison.Ordinal);
        Assert.DoesNotContain(tenant.Key, stored, StringComparison.Ordinal);
        Assert.DoesNotContain(tenant.Key.Split('_')[^1], stored, StringComparison.Ordinal);
        Assert.DoesNotContain(system.AdminKey, stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATenantCanNeverReadListOrLearnOfAnotherTenantsObjects()
    {
        var ct = TestTimeout.After(120);
        var a = await system.CreateTenantAsync("a", ct);
        var b = await system.CreateTenantAsync("b", ct);
        await using var receiver = await WebhookReceiver.StartAsync(ct);

        // Both tenants have a model named "iris": names are per tenant.
        var modelA = await a.Client.RegisterModelAsync("iris", new MemoryStream(TestModels.Classifier(seed: 21).Onnx), cancellationToken: ct);
        var modelB = await b.Client.RegisterModelAsync("iris", new MemoryStream(TestModels.Classifier(seed: 22).Onnx), cancellationToken: ct);
        Assert.NotEqual(modelA.Sha256, modelB.Sha256);
        Assert.Equal((modelA.Name, modelA.Version), ("iris", 1));

        var callback = receiver.NewEndpoint();
        var result = await a.Client.PredictAsync(new PredictRequest { Model = "iris", Features = Record, CallbackUrl = callback }, ct);
        var jobId = result.Job.Id;
        var dataset = await a.Client.UploadDatasetAsync("a.csv", new MemoryStream("x,y\n1,0\n"u8.ToArray()), ct);
        var webhook = Assert.Single(await receiver.WaitForAsync(callback, 1, ct));
        Assert.Equal("iris", JsonNode.Parse(webhook.Body)!["data"]!["model"]!.GetValue<string>());

        foreach (var path in new[] { $"v1/jobs/{jobId}", $"v1/jobs/{jobId}/output", $"v1/jobs/{jobId}/events", $"v1/jobs/{jobId}/webhooks", $"v1/datasets/{dataset.Id}" })
        {
            Assert.Equal(HttpStatusCode.OK, (await a.Http.GetAsync(path, ct)).StatusCode);
            using var response = await b.Http.GetAsync(path, ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        Assert.Null(await b.Client.GetJobAsync(jobId, ct));
        Assert.Empty(await (await b.Http.PostAsJsonAsync("v1/jobs/lookup", new JobLookupRequest { Ids = [jobId] }, ct))
            .Content.ReadFromJsonAsync<List<JobView>>(WireJson.Options, ct) ?? []);
        Assert.DoesNotContain((await b.Client.ListJobsAsync(cancellationToken: ct)).Items, j => j.Id == jobId);
        Assert.Equal([jobId], (await a.Client.ListJobsAsync(model: "iris", cancellationToken: ct)).Items.Select(j => j.Id));
        Assert.Equal([modelB.Sha256], (await b.Client.ListModelsAsync(ct)).Select(m => m.Sha256));
        Assert.Equal(modelB.Sha256, (await b.Http.GetFromJsonAsync<ModelView>("v1/models/iris/versions/latest", WireJson.Options, ct))!.Sha256);

        // B cannot take over A's job id (B's submission under it is a job of B's own), nor train on A's file; A's job stays as it was.
        using var ownUnderTheSameId = await b.Http.PostAsJsonAsync("v1/jobs", new { jobId, model = "iris", features = Record }, WireJson.Options, ct);
        Assert.Equal(HttpStatusCode.Accepted, ownUnderTheSameId.StatusCode);
        Assert.DoesNotContain(a.Id, await ownUnderTheSameId.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Equal(JobStatus.Succeeded, (await b.Client.WaitForCompletionAsync(jobId, ct)).Status);
        using var foreignData = await b.Http.PostAsJsonAsync("v1/jobs",
            new { kind = "train", model = "stolen", dataset = new { fileId = dataset.Id }, labelColumn = "y" }, WireJson.Options, ct);
        Assert.Equal(HttpStatusCode.NotFound, foreignData.StatusCode);
        var after = (await a.Client.GetJobAsync(jobId, ct))!;
        Assert.Equal((JobStatus.Succeeded, "iris", 1), (after.Status, after.Model, after.ModelVersion));
    }

    [Fact]
    public async Task BulkJobsTheirFilesAndTheirOutputsBelongToTheirTenant()
    {
        var ct = TestTimeout.After(120);
        var a = await system.CreateTenantAsync("bulka", ct);
        var b = await system.CreateTenantAsync("bulkb", ct);
        await a.Client.RegisterModelAsync("scorer", new MemoryStream(TestModels.Classifier(seed: 23).Onnx), cancellationToken: ct);
        var file = string.Concat(Enumerable.Range(0, 10).Select(i => $"{{\"id\":{i},\"features\":[1,2,3,{i}]}}\n"));
        var job = await a.Client.SubmitBulkAsync(new BulkScoreRequest { Model = "scorer", Input = new MemoryStream(Encoding.UTF8.GetBytes(file)) }, ct);
        job = await a.Client.WaitForBulkAsync(job.Id, cancellationToken: ct);
        Assert.Equal((BulkJobStatus.Succeeded, "scorer", 10L), (job.Status, job.Model, job.Counts.Succeeded));

        foreach (var path in new[] { $"v1/batches/{job.Id}", $"v1/batches/{job.Id}/output", $"v1/batches/{job.Id}/errors", $"v1/batches/{job.Id}/webhooks", $"v1/datasets/{job.InputFileId}" })
        {
            Assert.Equal(HttpStatusCode.OK, (await a.Http.GetAsync(path, ct)).StatusCode);
            using var response = await b.Http.GetAsync(path, ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await b.Http.PostAsync($"v1/batches/{job.Id}/cancel", null, ct)).StatusCode);
        Assert.DoesNotContain(await b.Http.GetFromJsonAsync<List<BulkJobView>>("v1/batches?view=bulk", WireJson.Options, ct) ?? [], j => j.Id == job.Id);
        Assert.Contains(await a.Http.GetFromJsonAsync<List<BulkJobView>>("v1/batches?view=bulk", WireJson.Options, ct) ?? [], j => j.Id == job.Id);

        // B can neither take A's job id (B's bulk job under it is B's own), nor score A's stored file, nor reach A's model by its name.
        await b.Client.RegisterModelAsync("scorer", new MemoryStream(TestModels.Classifier(seed: 24).Onnx), cancellationToken: ct);
        using var ownUnderTheSameId = await b.Http.PostAsync($"v1/batches?model=scorer&id={job.Id}", new StringContent(file), ct);
        Assert.Equal(HttpStatusCode.Accepted, ownUnderTheSameId.StatusCode);
        var betas = await b.Client.WaitForBulkAsync(job.Id, cancellationToken: ct);
        Assert.Equal((BulkJobStatus.Succeeded, 10L), (betas.Status, betas.Counts.Succeeded));
        var alphas = await a.Client.WaitForBulkAsync(job.Id, cancellationToken: ct);
        Assert.Equal((job.Status, job.InputFileId, job.CompletedAt, job.Counts), (alphas.Status, alphas.InputFileId, alphas.CompletedAt, alphas.Counts));
        Assert.NotEqual(alphas.InputFileId, betas.InputFileId);
        using var foreignFile = await b.Http.PostAsync($"v1/batches?model=scorer&inputFileId={job.InputFileId}", null, ct);
        Assert.Equal(HttpStatusCode.NotFound, foreignFile.StatusCode);
        using var foreignModel = await b.Http.PostAsync($"v1/batches?model={a.Id}/scorer", new StringContent(file), ct);
        Assert.Equal(HttpStatusCode.BadRequest, foreignModel.StatusCode);
    }

    [Fact]
    public async Task AClientHearsOnlyItsOwnTenantsCompletionEventsAndStillGetsItsOwnResults()
    {
        var ct = TestTimeout.After(120);
        var alpha = await system.CreateTenantAsync("ev-alpha", ct);
        var beta = await system.CreateTenantAsync("ev-beta", ct);
        await alpha.Client.RegisterModelAsync("iris", new MemoryStream(TestModels.Classifier(seed: 27).Onnx), cancellationToken: ct);
        await beta.Client.RegisterModelAsync("iris", new MemoryStream(TestModels.Classifier(seed: 28).Onnx), cancellationToken: ct);

        // Alpha's own client hears alpha's event: it was published and routed before beta's job is even submitted.
        var alphaJob = (await alpha.Client.PredictAsync(new PredictRequest { Model = "iris", Features = Record }, ct)).Job;
        await HeardAsync(alpha.Id, alphaJob.Id, ct);
        var betaResult = await beta.Client.PredictAsync(new PredictRequest { Model = "iris", Features = Record }, ct);
        Assert.Equal(JobStatus.Succeeded, betaResult.Job.Status);
        Assert.NotEmpty(betaResult.Outputs);
        await HeardAsync(beta.Id, betaResult.Job.Id, ct);

        // A queue delivers in order, so an event of alpha's routed to beta's (or the default tenant's) queue came before beta's own.
        Assert.DoesNotContain(HeardLines(beta.Id), line => line.Contains(alphaJob.Id.ToString(), StringComparison.Ordinal));
        Assert.DoesNotContain(HeardLines("default"), line => line.Contains(alphaJob.Id.ToString(), StringComparison.Ordinal));
        Assert.DoesNotContain(HeardLines(alpha.Id), line => line.Contains(betaResult.Job.Id.ToString(), StringComparison.Ordinal));
    }

    /// <summary>The SDK's lines (at Debug) naming the jobs whose completion a client of <paramref name="tenantId"/> heard.</summary>
    private string[] HeardLines(string tenantId) =>
        [.. system.Logs.Text.Split('\n').Where(l => l.Contains($"Client of tenant {tenantId} heard the completion of jobs", StringComparison.Ordinal))];

    private async Task HeardAsync(string tenantId, Guid jobId, CancellationToken ct)
    {
        while (!HeardLines(tenantId).Any(l => l.Contains(jobId.ToString(), StringComparison.Ordinal)))
        {
            await Task.Delay(50, ct);
        }
    }

    [Fact]
    public async Task AValidSubmissionUnderAnIdAnotherTenantHoldsIsAcceptedRunsAndReadsBackAsItsOwn()
    {
        // Issue #13, finding 14: ids are unique per tenant, so an id another tenant holds is answered exactly as a fresh id,
        // on every way in: POST /v1/jobs, POST /v1/jobs/batch, the Open Inference Protocol's infer with a job_id, and bulk
        // jobs (POST /v1/batches). Before, a valid submission under a held id got 409 and an invalid one the fresh-id answer.
        var ct = TestTimeout.After(180);
        var a = await system.CreateTenantAsync("held-a", ct);
        var b = await system.CreateTenantAsync("held-b", ct);
        var (mlpA, onnxA) = TestModels.Classifier(seed: 25);
        var (mlpB, onnxB) = TestModels.Classifier(seed: 29);
        await a.Client.RegisterModelAsync("iris", new MemoryStream(onnxA), cancellationToken: ct);
        await b.Client.RegisterModelAsync("iris", new MemoryStream(onnxB), cancellationToken: ct);
        var file = "{\"id\":1,\"features\":[1,2,3,4]}\n";
        var (jobId, batchedId, inferId, bulkId) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());

        // A's jobs under those ids, finished, as A reads them.
        await SubmitEveryWayAsync(a, mlpA.InputName, jobId, batchedId, inferId, bulkId, file, ct);
        var aBefore = await ReadEveryWayAsync(a, jobId, batchedId, inferId, bulkId, ct);

        // A probe with a request that could never be queued learns nothing: A's ids get the answer a fresh id gets.
        foreach (var id in new[] { jobId, Guid.NewGuid() })
        {
            using var job = await b.Http.PostAsJsonAsync("v1/jobs", new { jobId = id, model = "nosuch", features = Record }, WireJson.Options, ct);
            Assert.Equal(HttpStatusCode.NotFound, job.StatusCode);
            Assert.Equal("No model nosuch is registered.", JsonNode.Parse(await job.Content.ReadAsStringAsync(ct))!["detail"]!.GetValue<string>());
        }

        foreach (var id in new[] { bulkId, Guid.NewGuid() })
        {
            using var batch = await b.Http.PostAsync($"v1/batches?model=nosuch&id={id}", new StringContent(file), ct);
            Assert.Equal(HttpStatusCode.NotFound, batch.StatusCode);
        }

        // B's valid submissions under A's ids: accepted as new jobs (the same answers A's got), run on B's model, and read
        // back as B's own; A's jobs are as they were.
        await SubmitEveryWayAsync(b, mlpB.InputName, jobId, batchedId, inferId, bulkId, file, ct);
        var bAfter = await ReadEveryWayAsync(b, jobId, batchedId, inferId, bulkId, ct);
        Assert.Equal(aBefore, await ReadEveryWayAsync(a, jobId, batchedId, inferId, bulkId, ct));
        foreach (var (mine, theirs) in bAfter.Zip(aBefore))
        {
            Assert.NotEqual(theirs, mine);
        }
    }

    /// <summary>Submits a job under each of the ids, one way each, and checks each is answered as a new job.</summary>
    private static async Task SubmitEveryWayAsync(TestTenant tenant, string input, Guid jobId, Guid batchedId, Guid inferId, Guid bulkId, string file,
        CancellationToken ct)
    {
        using var job = await tenant.Http.PostAsJsonAsync("v1/jobs", new { jobId, model = "iris", features = Record }, WireJson.Options, ct);
        Assert.Equal(HttpStatusCode.Accepted, job.StatusCode);
        using var batch = await tenant.Http.PostAsJsonAsync("v1/jobs/batch",
            new { jobs = new[] { new { jobId = batchedId, model = "iris", features = Record } } }, WireJson.Options, ct);
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        Assert.Equal(StatusCodes.Status202Accepted, Assert.Single((await batch.Content.ReadFromJsonAsync<JobBatchView>(WireJson.Options, ct))!.Items).Status);
        var infer = new JsonObject
        {
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = input,
                ["datatype"] = "FP32",
                ["shape"] = new JsonArray(1, Record.Length),
                ["data"] = new JsonArray([.. Record.Select(v => (JsonNode)v)]),
            }),
            ["parameters"] = new JsonObject { ["job_id"] = inferId.ToString(), ["timeout_ms"] = 30_000 },
        };
        using var inferred = await tenant.Http.PostAsJsonAsync("v2/models/iris/infer", infer, ct);
        Assert.Equal(HttpStatusCode.OK, inferred.StatusCode);
        using var bulk = await tenant.Http.PostAsync($"v1/batches?model=iris&id={bulkId}", new StringContent(file), ct);
        Assert.Equal(HttpStatusCode.Accepted, bulk.StatusCode);
        Assert.All(await tenant.Client.WaitForAllAsync([jobId, batchedId, inferId], ct), j => Assert.Equal((JobStatus.Succeeded, "iris"), (j.Status, j.Model)));
        Assert.Equal(BulkJobStatus.Succeeded, (await tenant.Client.WaitForBulkAsync(bulkId, cancellationToken: ct)).Status);
    }

    /// <summary>What the tenant reads of each job: its record and its outputs (the bulk job's output lines).</summary>
    private static async Task<string[]> ReadEveryWayAsync(TestTenant tenant, Guid jobId, Guid batchedId, Guid inferId, Guid bulkId, CancellationToken ct)
    {
        var read = new List<string>();
        foreach (var path in new[] { $"v1/jobs/{jobId}", $"v1/jobs/{jobId}/output", $"v1/jobs/{batchedId}", $"v1/jobs/{batchedId}/output",
            $"v1/jobs/{inferId}", $"v1/jobs/{inferId}/output", $"v1/batches/{bulkId}/output" })
        {
            using var response = await tenant.Http.GetAsync(path, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            read.Add(await response.Content.ReadAsStringAsync(ct));
        }

        return [.. read];
    }

    [Fact]
    public async Task TwoTenantsPostingOneNewJobIdAtOnceEachGetAJobOfTheirOwn()
    {
        // Issue #13, finding 5: both got 202 and one tenant's job then answered 404 for good; later one got 409. Ids are per
        // tenant now: both are accepted, both run, and each tenant reads its own job.
        var ct = TestTimeout.After(180);
        var a = await system.CreateTenantAsync("race-a", ct);
        var b = await system.CreateTenantAsync("race-b", ct);
        await a.Client.RegisterModelAsync("iris", new MemoryStream(TestModels.Classifier(seed: 26).Onnx), cancellationToken: ct);
        await b.Client.RegisterModelAsync("iris", new MemoryStream(TestModels.Classifier(seed: 27).Onnx), cancellationToken: ct);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
        {
            var jobId = Guid.NewGuid();
            var posts = await Task.WhenAll(new[] { a, b }.Select(async tenant =>
            {
                using var response = await tenant.Http.PostAsJsonAsync("v1/jobs", new { jobId, model = "iris", features = Record }, WireJson.Options, ct);
                return response.StatusCode;
            }));
            return (JobId: jobId, Posts: posts);
        }));

        foreach (var (jobId, posts) in outcomes)
        {
            Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Accepted], posts);
            var outputs = new List<string>();
            foreach (var tenant in new[] { a, b })
            {
                var done = await tenant.Client.WaitForCompletionAsync(jobId, ct);
                Assert.Equal((JobStatus.Succeeded, "iris"), (done.Status, done.Model));
                using var output = await tenant.Http.GetAsync($"v1/jobs/{jobId}/output", ct);
                Assert.Equal(HttpStatusCode.OK, output.StatusCode);
                outputs.Add(await output.Content.ReadAsStringAsync(ct));
            }

            // Two models, two answers: each tenant's job ran on its own model.
            Assert.NotEqual(outputs[0], outputs[1]);
        }
    }

    [Fact]
    public async Task OnlyAJobsOwnTenantCanCancelItAndATrainJobUsesOnlyItsOwnTenantsFiles()
    {
        var ct = TestTimeout.After(180);
        var a = await system.CreateTenantAsync("train-a", ct);
        var b = await system.CreateTenantAsync("train-b", ct);
        var iris = await File.ReadAllBytesAsync(Path.Combine(Repository.Root.FullName, "data", "iris.csv"), ct);
        var dataset = await a.Client.UploadDatasetAsync("iris.csv", new MemoryStream(iris), ct);

        var trained = await a.Client.WaitForCompletionAsync(await a.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = "flowers",
            Dataset = new TrainingDataset { FileId = dataset.Id },
            LabelColumn = "species",
            Hyperparameters = new TrainingHyperparameters { Epochs = 5 },
        }, ct), ct);
        Assert.True(trained.Status == JobStatus.Succeeded, trained.Error);
        Assert.Equal("flowers", Assert.Single(await a.Client.ListModelsAsync(ct)).Name);
        Assert.Empty(await b.Client.ListModelsAsync(ct));

        // B's job naming A's file (published straight to the broker, past the API's check) fails as if the file did not exist.
        var stolen = await b.Client.WaitForCompletionAsync(await b.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = "stolen",
            Dataset = new TrainingDataset { FileId = dataset.Id },
            LabelColumn = "species",
        }, ct), ct);
        Assert.Equal(JobStatus.Failed, stolen.Status);
        Assert.Empty(await b.Client.ListModelsAsync(ct));

        var longJob = await a.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = "long",
            Dataset = new TrainingDataset { FileId = dataset.Id },
            LabelColumn = "species",
            Hyperparameters = new TrainingHyperparameters { Epochs = 1_000_000, BatchSize = 1, EarlyStoppingPatience = 0 },
        }, ct);
        while (!(await a.Client.GetJobEventsAsync(longJob, cancellationToken: ct)).Any(e => e.Type == "epoch"))
        {
            await Task.Delay(100, ct);
        }

        await b.Client.CancelAsync(longJob, ct);
        await Task.Delay(TimeSpan.FromSeconds(2), ct); // ten heartbeats: a cancel that counted would have ended it
        Assert.Equal(JobStatus.Running, (await a.Client.GetJobAsync(longJob, ct))!.Status);

        await a.Client.CancelAsync(longJob, ct);
        Assert.Equal(JobStatus.Cancelled, (await a.Client.WaitForCompletionAsync(longJob, ct)).Status);
    }

    [Fact]
    public async Task WorkersStoreNothingForCommandsWhoseTenantAndKeyDoNotMatchDeadLetterThemAndKeepWorking()
    {
        var ct = TestTimeout.After(120);
        var a = await system.CreateTenantAsync("victim", ct);
        var b = await system.CreateTenantAsync("forger", ct);
        await a.Client.RegisterModelAsync("iris", new MemoryStream(TestModels.Classifier(seed: 23).Onnx), cancellationToken: ct);
        var hashB = ApiKeyFormat.Hash(b.Key);
        var before = await DeadLetteredAsync(ct);

        var forgeries = new Dictionary<Guid, TenantCredentials?>
        {
            // A's key id with a proof made from another key.
            [Guid.NewGuid()] = new TenantCredentials { TenantId = a.Id, KeyId = a.KeyId, Proof = "AAAA" },
            // B's valid key, claiming to be tenant A (set below: the proof covers the job id).
            [Guid.NewGuid()] = null,
            // Tenant A named, no key at all.
            [Guid.NewGuid()] = new TenantCredentials { TenantId = a.Id },
            // Nothing: the open default's message, refused where keys are required.
            [Guid.NewGuid()] = null,
        };
        var ids = forgeries.Keys.ToArray();
        forgeries[ids[1]] = new TenantCredentials
        {
            TenantId = a.Id,
            KeyId = b.KeyId,
            Proof = ApiKeyFormat.Proof(hashB, ApiKeyFormat.PredictPurpose, a.Id, ids[1]),
        };

        foreach (var (jobId, sender) in forgeries)
        {
            await system.ClientBus.Publish(new SubmitPredictJob
            {
                JobId = jobId,
                Model = "iris",
                Features = Record,
                SubmittedAt = DateTimeOffset.UtcNow,
                Sender = sender,
            }, ct);
        }

        // The same plant as a train job and a bulk job: tenant A named, no proof.
        var trainId = Guid.NewGuid();
        var bulkId = Guid.NewGuid();
        await system.ClientBus.Publish(new SubmitTrainJob
        {
            JobId = trainId,
            Model = "planted",
            Dataset = new TrainingDataset { FileId = "nothing" },
            LabelColumn = "label",
            SubmittedAt = DateTimeOffset.UtcNow,
            Sender = new TenantCredentials { TenantId = a.Id },
        }, ct);
        await system.ClientBus.Publish(new SubmitBulkJob
        {
            BulkJobId = bulkId,
            Model = "iris",
            InputFileId = "nothing",
            SubmittedAt = DateTimeOffset.UtcNow,
            Sender = new TenantCredentials { TenantId = a.Id },
        }, ct);

        // Each refused message is dead-lettered: 4 predict jobs, 1 train job, 1 bulk job.
        var expected = new Dictionary<string, uint> { ["predict-jobs_error"] = 4, ["train-jobs_error"] = 1, ["bulk-jobs_error"] = 1 };
        while (true)
        {
            var now = await DeadLetteredAsync(ct);
            if (expected.All(e => now[e.Key] - before[e.Key] >= e.Value))
            {
                Assert.All(expected, e => Assert.Equal(e.Value, now[e.Key] - before[e.Key]));
                break;
            }

            await Task.Delay(100, ct);
        }

        // Nothing stored under any of those ids, for anyone.
        var jobs = system.ApiServices.GetRequiredService<IJobStore>();
        string[] anyone = [a.Id, b.Id, Tenants.DefaultTenantId];
        Assert.Empty(await jobs.GetManyAsync([.. anyone.SelectMany(t => ids.Append(trainId).Select(id => new JobKey(t, id)))], includeOutputs: false, ct));
        foreach (var tenant in anyone)
        {
            Assert.Null(await system.ApiServices.GetRequiredService<IBulkStore>().GetBulkJobAsync(tenant, bulkId, ct));
        }
        Assert.Contains("nothing stored, message dead-lettered", string.Join("\n", system.Workers.Select(w => w.Output)), StringComparison.Ordinal);

        // A's ids are still A's to use: its own submission of a planted id runs as A's job.
        Assert.All(system.Workers, w => Assert.False(w.HasExited));
        var genuine = await a.Client.PredictAsync(new PredictRequest { JobId = ids[2], Model = "iris", Features = Record }, ct);
        Assert.Equal(JobStatus.Succeeded, genuine.Job.Status);
        Assert.Equal(ids[2], genuine.Job.Id);
    }

    private async Task<Dictionary<string, uint>> DeadLetteredAsync(CancellationToken ct)
    {
        var counts = new Dictionary<string, uint>();
        foreach (var queue in new[] { "predict-jobs_error", "train-jobs_error", "bulk-jobs_error" })
        {
            try
            {
                counts[queue] = await system.Broker.GetReadyCountAsync(queue, ct);
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                counts[queue] = 0; // not declared until its first error
            }
        }

        return counts;
    }

    [Fact]
    public async Task NoSecretAppearsInAnyLogOrResponseOfAFullRun()
    {
        var ct = TestTimeout.After(120);
        var tenant = await system.CreateTenantAsync("secrets", ct);
        using var admin = system.Http(system.AdminKey);
        var second = await (await admin.PostAsJsonAsync($"v1/admin/tenants/{tenant.Id}/keys", new { name = "second" }, ct))
            .Content.ReadFromJsonAsync<ApiKeyView>(WireJson.Options, ct);
        await using var receiver = await WebhookReceiver.StartAsync(ct);
        var responses = new StringBuilder();

        var (sdkCallback, httpCallback) = (receiver.NewEndpoint(), receiver.NewEndpoint());
        await tenant.Client.RegisterModelAsync("iris", new MemoryStream(TestModels.Classifier(seed: 24).Onnx), cancellationToken: ct);
        var sdkJob = await tenant.Client.PredictAsync(new PredictRequest { Model = "iris", Features = Record, CallbackUrl = sdkCallback }, ct);
        using var submitted = await tenant.Http.PostAsJsonAsync("v1/jobs",
            new { model = "iris", features = Record, callbackUrl = httpCallback }, WireJson.Options, ct);
        var httpJob = (await submitted.Content.ReadFromJsonAsync<JobView>(WireJson.Options, ct))!.Id;
        await tenant.Client.WaitForCompletionAsync(httpJob, ct);
        await receiver.WaitForAsync(sdkCallback, 1, ct);
        await receiver.WaitForAsync(httpCallback, 1, ct);
        await tenant.Client.UploadDatasetAsync("d.csv", new MemoryStream("x,y\n1,2\n"u8.ToArray()), ct);
        (await admin.DeleteAsync($"v1/admin/tenants/{tenant.Id}/keys/{second!.KeyId}", ct)).EnsureSuccessStatusCode();
        using var revoked = system.Http(second.Key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await revoked.GetAsync("v1/jobs", ct)).StatusCode);
        foreach (var path in new[] { $"v1/jobs/{sdkJob.Job.Id}", $"v1/jobs/{httpJob}/webhooks", $"v1/jobs/{httpJob}/events", "v1/jobs", "v1/models" })
        {
            responses.AppendLine(await tenant.Http.GetStringAsync(path, ct));
        }

        foreach (var path in new[] { "v1/admin/tenants", $"v1/admin/tenants/{tenant.Id}/keys", "v1/ops/queues", "v1/ops/throughput", "metrics" })
        {
            responses.AppendLine(await admin.GetStringAsync(path, ct));
        }

        var logs = system.Logs.Text + "\n" + string.Join('\n', system.Workers.Select(w => w.Output));
        Assert.Contains("API keys required", logs, StringComparison.Ordinal); // the capture did see the API's own lines
        Assert.Contains(httpJob.ToString(), logs, StringComparison.Ordinal); // and the workers' job lines
        var secrets = new Dictionary<string, string>
        {
            ["tenant key"] = tenant.Key,
            ["tenant key secret part"] = tenant.Key.Split('_')[^1],
            ["revoked key"] = second.Key!,
            ["admin key"] = system.AdminKey,
            ["webhook secret"] = system.WebhookSecret,
            ["webhook secret key part"] = system.WebhookSecret["whsec_".Length..],
            ["broker password"] = system.BrokerPassword,
        };
        foreach (var (what, secret) in secrets)
        {
            Assert.False(logs.Contains(secret, StringComparison.Ordinal), $"The logs hold the {what}.");
            Assert.False(responses.ToString().Contains(secret, StringComparison.Ordinal), $"An API response holds the {what}.");
        }
    }

    /// <summary>The embedded store file and its write-ahead log, as text (Latin-1 keeps every byte).</summary>
    private string ReadStoreFiles()
    {
        var text = new StringBuilder();
        foreach (var path in new[] { system.StorePath, system.StorePath + "-wal" }.Where(File.Exists))
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            file.CopyTo(copy);
            text.Append(Encoding.Latin1.GetString(copy.ToArray()));
        }

        return text.ToString();
    }
}
