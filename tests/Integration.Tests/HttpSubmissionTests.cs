using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The SDK with only the ResultApi's address and a key (no broker URI, no MassTransit in the host) submits over HTTP:
/// predict jobs one and many (<c>POST /v1/jobs/batch</c>), train jobs and cancels, with the SDK's exceptions for every
/// refusal; and reads many jobs' states and outputs together. On the broker system with keys required, so that the
/// workers check the key proof the API puts on each command, and tenants stay apart.
/// </summary>
public sealed class HttpSubmissionTests(TenantSystem system) : IClassFixture<TenantSystem>
{
    private static readonly float[] Record = [0.5f, -1.25f, 3f, 2f];

    [Fact]
    public async Task AClientWithOnlyTheApiUrlSubmitsOneAndManyPredictJobsOverHttpAndReadsAllTheirOutputsTogether()
    {
        var ct = TestTimeout.After(240);
        var tenant = await system.CreateTenantAsync("http", ct);
        var name = await RegisterClassifierAsync(tenant, "httpmany", seed: 81, ct);
        await using var aiaas = await HttpOnlyClientAsync(tenant.Key, ct);

        var one = await aiaas.Client.SubmitPredictAsync(new PredictRequest { Model = name, Features = Record }, ct);
        var random = new Random(81);
        // More than one batch request's worth, so that the SDK splits them.
        var many = await aiaas.Client.SubmitPredictManyAsync(
            Enumerable.Range(0, 1_050).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }), ct);
        Assert.Equal(1_050, many.Distinct().Count());

        IReadOnlyList<Guid> ids = [one, .. many];
        var jobs = await aiaas.Client.WaitForAllAsync(ids, ct);
        Assert.Equal(ids, jobs.Select(j => j.Id));
        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));

        var outputs = await aiaas.Client.GetOutputsAsync(ids, ct);
        Assert.Equal(ids, outputs.Select(o => o!.Id));
        var single = await aiaas.Client.GetOutputAsync(one, ct);
        Assert.Equal(JsonSerializer.Serialize(single, WireJson.Options), JsonSerializer.Serialize(outputs[0], WireJson.Options));

        // The JobId is the idempotency key over HTTP too: a repeat (say, after a timeout) queues nothing new.
        Assert.Equal(one, await aiaas.Client.SubmitPredictAsync(new PredictRequest { JobId = one, Model = name, Features = Record }, ct));
        Assert.Equal(many.Take(3), await aiaas.Client.SubmitPredictManyAsync(
            many.Take(3).Select(id => new PredictRequest { JobId = id, Model = name, Features = Record }), ct));
        var listed = await aiaas.Client.ListJobsAsync(model: name, limit: 1000, cancellationToken: ct);
        Assert.Equal(1000, listed.Items.Count);
        Assert.NotNull(listed.NextCursor);
        Assert.Equal(51, (await aiaas.Client.ListJobsAsync(model: name, limit: 1000, cursor: listed.NextCursor, cancellationToken: ct)).Items.Count);
    }

    [Fact]
    public async Task AClientInAGenericHostWithoutMassTransitSubmitsOverHttpToo()
    {
        var ct = TestTimeout.After(120);
        var tenant = await system.CreateTenantAsync("hosted", ct);
        var name = await RegisterClassifierAsync(tenant, "hosted", seed: 82, ct);
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAiaasClient(o =>
        {
            o.ApiUrl = system.ApiUrl;
            o.ApiKey = tenant.Key;
        });
        using var host = builder.Build();
        await host.StartAsync(ct);
        var client = host.Services.GetRequiredService<IAiaasClient>();

        var result = await client.PredictAsync(new PredictRequest { Model = name, Features = Record }, ct);

        Assert.Equal(JobStatus.Succeeded, result.Job.Status);
        await host.StopAsync(ct);
    }

    [Fact]
    public async Task ATrainJobAndItsCancelGoOverHttpWithTheCallersKey()
    {
        var ct = TestTimeout.After(180);
        var tenant = await system.CreateTenantAsync("httptrain", ct);
        await using var aiaas = await HttpOnlyClientAsync(tenant.Key, ct);
        var name = TestModels.UniqueName("httptrain");

        var jobId = await aiaas.Client.SubmitTrainAsync(new TrainRequest
        {
            Model = name,
            Dataset = TrainRequest.InlineRows(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"],
                File.ReadLines(Path.Combine(Repository.Root.FullName, "data", "iris.csv")).Skip(1).Select(l => (IReadOnlyList<string>)l.Split(','))),
            LabelColumn = "species",
            Hyperparameters = new TrainingHyperparameters { Epochs = 1_000_000, BatchSize = 1, EarlyStoppingPatience = 0 },
        }, ct);
        Assert.Equal(JobKind.Train, (await aiaas.Client.GetJobAsync(jobId, ct))!.Kind);
        // Cancelled once it runs, as TrainThroughRabbitMqTests does: a cancel that reaches the workers before they have
        // taken the train job finds nothing to flag (on either transport), which is not what this test is about.
        while (!(await aiaas.Client.GetJobEventsAsync(jobId, cancellationToken: ct)).Any(e => e.Type == "epoch"))
        {
            await Task.Delay(100, ct);
        }

        await aiaas.Client.CancelAsync(jobId, ct);

        var job = await aiaas.Client.WaitForCompletionAsync(jobId, ct);
        Assert.True(job.Status == JobStatus.Cancelled, $"{job.Status}: {job.Error}");
        Assert.DoesNotContain(await aiaas.Client.ListModelsAsync(ct), m => m.Name == name);

        // Cancel names a job of the caller's: another tenant's is as unknown as one never submitted.
        var other = await system.CreateTenantAsync("httpother", ct);
        await using var stranger = await HttpOnlyClientAsync(other.Key, ct);
        var unknown = await Assert.ThrowsAsync<AiaasApiException>(() => stranger.Client.CancelAsync(jobId, ct));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Theory]
    [InlineData("""{"model":"any","features":[1,"two",3]}""", "$.features")]
    [InlineData("""{"model":"any","features":[1,2,3],"explain":"yes"}""", "explain")]
    [InlineData("""{"model":"any","features":[1,2""", "LineNumber")]
    public async Task ABodyThatIsNotAJobGets400WithWhereItWentWrong(string body, string named)
    {
        var ct = TestTimeout.After(30);
        var tenant = await system.CreateTenantAsync("body", ct);

        using var response = await tenant.Http.PostAsync("v1/jobs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal("Invalid request body", problem.GetProperty("title").GetString());
        Assert.Contains(named, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefusedSubmissionsThrowTheSdksExceptionsWithTheApisReason()
    {
        var ct = TestTimeout.After(120);
        var owner = await system.CreateTenantAsync("owner", ct);
        var caller = await system.CreateTenantAsync("caller", ct);
        var name = await RegisterClassifierAsync(caller, "refused", seed: 83, ct);
        var owned = await RegisterClassifierAsync(owner, "owned", seed: 84, ct);
        await using var aiaas = await HttpOnlyClientAsync(caller.Key, ct);

        var invalid = await Assert.ThrowsAsync<AiaasApiException>(() => aiaas.Client.SubmitPredictAsync(
            new PredictRequest { Model = name, Features = Record, Text = "and text" }, ct));
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("exactly one way", invalid.Detail, StringComparison.Ordinal);

        var unknownModel = await Assert.ThrowsAsync<AiaasApiException>(() => aiaas.Client.SubmitPredictAsync(
            new PredictRequest { Model = TestModels.UniqueName("nosuch"), Features = Record }, ct));
        Assert.Equal(HttpStatusCode.NotFound, unknownModel.StatusCode);
        Assert.Equal("Unknown model", unknownModel.Title);

        // Another tenant's JobId is no refusal: ids are per tenant, so it names a job of the caller's own, and the owner's stays its own.
        await using var ownerClient = await HttpOnlyClientAsync(owner.Key, ct);
        var taken = await ownerClient.Client.SubmitPredictAsync(new PredictRequest { Model = owned, Features = Record }, ct);
        Assert.Equal(taken, await aiaas.Client.SubmitPredictAsync(new PredictRequest { JobId = taken, Model = name, Features = Record }, ct));
        var mine = await aiaas.Client.WaitForCompletionAsync(taken, ct);
        var theirs = await ownerClient.Client.WaitForCompletionAsync(taken, ct);
        Assert.Equal((JobStatus.Succeeded, name), (mine.Status, mine.Model));
        Assert.Equal((JobStatus.Succeeded, owned), (theirs.Status, theirs.Model));

        // A revoked key: 401 from the API, before anything is queued.
        using var admin = system.Http(system.AdminKey);
        (await admin.DeleteAsync($"v1/admin/tenants/{caller.Id}/keys/{caller.KeyId}", ct)).EnsureSuccessStatusCode();
        var unauthorized = await Assert.ThrowsAsync<AiaasApiException>(() => aiaas.Client.SubmitPredictAsync(
            new PredictRequest { Model = name, Features = Record }, ct));
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
    }

    [Fact]
    public async Task AnUnreachableApiThrowsAPublishExceptionThatSaysToSubmitAgainWithTheSameJobId()
    {
        var ct = TestTimeout.After(60);
        var tenant = await system.CreateTenantAsync("away", ct);
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var aiaas = await StandaloneAiaasClient.StartAsync(o =>
        {
            o.ApiUrl = new Uri($"http://127.0.0.1:{port}");
            o.ApiKey = tenant.Key;
            o.Transport = AiaasTransport.Http;
        }, ct);
        var jobId = Guid.CreateVersion7();

        var failure = await Assert.ThrowsAsync<AiaasPublishException>(() => aiaas.Client.SubmitPredictAsync(
            new PredictRequest { JobId = jobId, Model = "iris", Features = Record }, ct));

        Assert.Equal(jobId, failure.JobId);
        Assert.False(failure.IsUnroutable);
        Assert.Contains("may or may not have been queued", failure.Message, StringComparison.Ordinal);
        Assert.Contains("same JobId", failure.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<AiaasPublishException>(() => aiaas.Client.SubmitPredictManyAsync(
            [new PredictRequest { Model = "iris", Features = Record }], ct));
        await Assert.ThrowsAsync<AiaasPublishException>(() => aiaas.Client.CancelAsync(jobId, ct));
    }

    [Fact]
    public void TheHttpTransportWithABrokerUriIsAConfigurationError()
    {
        var services = new ServiceCollection();

        var error = Assert.Throws<ArgumentException>(() => services.AddAiaasClient(o =>
        {
            o.Transport = AiaasTransport.Http;
            o.RabbitMqUri = new Uri("amqp://127.0.0.1:5672/");
        }));

        Assert.Contains("RabbitMqUri", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheManyOutputsCallNeverReturnsAnotherTenantsJob()
    {
        var ct = TestTimeout.After(120);
        var owner = await system.CreateTenantAsync("outowner", ct);
        var other = await system.CreateTenantAsync("outother", ct);
        var name = await RegisterClassifierAsync(owner, "outputs", seed: 85, ct);
        await using var ownerClient = await HttpOnlyClientAsync(owner.Key, ct);
        await using var otherClient = await HttpOnlyClientAsync(other.Key, ct);
        var ids = await ownerClient.Client.SubmitPredictManyAsync(
            Enumerable.Range(0, 5).Select(_ => new PredictRequest { Model = name, Features = Record }), ct);
        await ownerClient.Client.WaitForAllAsync(ids, ct);
        var never = Guid.CreateVersion7();

        var own = await ownerClient.Client.GetOutputsAsync([.. ids, never], ct);
        Assert.Equal(ids, own.Take(5).Select(o => o!.Id));
        Assert.Null(own[5]);
        Assert.All(await otherClient.Client.GetOutputsAsync([.. ids, never], ct), Assert.Null);

        using var response = await other.Http.PostAsJsonAsync("v1/jobs/outputs", new JobLookupRequest { Ids = [.. ids, never] }, WireJson.Options, ct);
        var view = (await response.Content.ReadFromJsonAsync<JobOutputsView>(WireJson.Options, ct))!;
        Assert.Empty(view.Outputs);
        Assert.Equal([.. ids, never], view.Missing);

        using var tooMany = await owner.Http.PostAsJsonAsync("v1/jobs/outputs",
            new JobLookupRequest { Ids = [.. Enumerable.Range(0, 1_001).Select(_ => Guid.NewGuid())] }, WireJson.Options, ct);
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
    }

    [Fact]
    public async Task TheBatchEndpointRefusesAnOverLimitBodyAndAnswersEachJobAsPostJobsWould()
    {
        var ct = TestTimeout.After(120);
        var tenant = await system.CreateTenantAsync("batch", ct);
        var name = await RegisterClassifierAsync(tenant, "batch", seed: 86, ct);

        using var overLimit = await tenant.Http.PostAsJsonAsync("v1/jobs/batch",
            new { jobs = Enumerable.Range(0, 1_001).Select(_ => new { model = name, features = Record }) }, WireJson.Options, ct);
        Assert.Equal(HttpStatusCode.BadRequest, overLimit.StatusCode);
        Assert.Equal("application/problem+json", overLimit.Content.Headers.ContentType?.MediaType);
        Assert.Contains("1000", await overLimit.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

        var good = Guid.CreateVersion7();
        object[] jobs =
        [
            new { jobId = good, model = name, features = Record },
            new { model = TestModels.UniqueName("nosuch"), features = Record },
            new { model = name, features = Record, text = "both" },
            new { kind = "Train", model = name },
            new { model = name, features = Record, timeToLiveSeconds = -1 },
        ];
        var first = await SubmitBatchAsync(tenant, jobs, ct);
        Assert.Equal([202, 404, 400, 400, 400], first.Items.Select(i => i.Status));
        Assert.Equal(good, first.Items[0].JobId);
        Assert.Equal(JobStatus.Queued, first.Items[0].Job!.Status);
        Assert.Equal("Unknown model", first.Items[1].Title);
        Assert.Contains("exactly one way", first.Items[2].Detail, StringComparison.Ordinal);
        Assert.Contains("predict jobs only", first.Items[3].Detail, StringComparison.Ordinal);
        Assert.Contains("TimeToLiveSeconds", first.Items[4].Detail, StringComparison.Ordinal);
        Assert.All(first.Items.Skip(1), i => Assert.Null(i.Job));

        // A repeat of the same body is safe: the queued job is answered as known, and nothing more is queued.
        var again = await SubmitBatchAsync(tenant, jobs, ct);
        Assert.Equal(200, again.Items[0].Status);
        Assert.Equal(good, again.Items[0].Job!.Id);
        Assert.Single((await tenant.Client.ListJobsAsync(model: name, cancellationToken: ct)).Items);
    }

    [Fact]
    public async Task SubmitManyOverHttpQueuesTheGoodJobsAndNamesEachRefusal()
    {
        var ct = TestTimeout.After(120);
        var tenant = await system.CreateTenantAsync("partial", ct);
        var name = await RegisterClassifierAsync(tenant, "partial", seed: 87, ct);
        await using var aiaas = await HttpOnlyClientAsync(tenant.Key, ct);
        var missing = TestModels.UniqueName("nosuch");

        var failure = await Assert.ThrowsAsync<AiaasSubmitManyException>(() => aiaas.Client.SubmitPredictManyAsync(
        [
            new PredictRequest { Model = name, Features = Record },
            new PredictRequest { Model = missing, Features = Record },
            new PredictRequest { Model = name, Features = Record },
        ], ct));

        Assert.Equal(3, failure.JobIds.Count);
        var refused = Assert.Single(failure.Refusals);
        Assert.Equal(failure.JobIds[1], refused.Key);
        Assert.Equal(HttpStatusCode.NotFound, Assert.IsType<AiaasApiException>(refused.Value).StatusCode);
        var done = await aiaas.Client.WaitForAllAsync([failure.JobIds[0], failure.JobIds[2]], ct);
        Assert.All(done, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.Null(await aiaas.Client.GetJobAsync(failure.JobIds[1], ct));
    }

    private static async Task<JobBatchView> SubmitBatchAsync(TestTenant tenant, object[] jobs, CancellationToken ct)
    {
        using var response = await tenant.Http.PostAsJsonAsync("v1/jobs/batch", new { jobs }, WireJson.Options, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JobBatchView>(WireJson.Options, ct))!;
    }

    private Task<StandaloneAiaasClient> HttpOnlyClientAsync(string key, CancellationToken ct) =>
        StandaloneAiaasClient.StartAsync(o =>
        {
            o.ApiUrl = system.ApiUrl;
            o.ApiKey = key;
        }, ct);

    private static async Task<string> RegisterClassifierAsync(TestTenant tenant, string prefix, int seed, CancellationToken ct)
    {
        var (_, onnx) = TestModels.Classifier(seed);
        var name = TestModels.UniqueName(prefix);
        await tenant.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        return name;
    }
}

/// <summary>Admission over HTTP: the ResultApi refuses at the limit, and the SDK turns it into its overloaded exception.</summary>
public sealed class HttpAdmissionTests(AdmissionLimitSystem system) : IClassFixture<AdmissionLimitSystem>
{
    [Fact]
    public async Task AnHttpClientAtTheAdmissionLimitGetsAnOverloadedExceptionWithRetryAfterForOneJobAndForMany()
    {
        var ct = TestTimeout.After(180);
        // Batches that never fill (prefetch 4, batch limit 64) run only every 2 s: the backlog stays for a while.
        var (_, onnx) = TestModels.Classifier(seed: 88);
        var name = TestModels.UniqueName("httpfull");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 64, MaxQueueDelayMilliseconds = 2000 }, cancellationToken: ct);
        await using var aiaas = await StandaloneAiaasClient.StartAsync(o => o.ApiUrl = system.ApiUrl, ct);

        var random = new Random(88);
        var accepted = new List<Guid>();
        AiaasOverloadedException? refused = null;
        for (var i = 0; i < 100 && refused is null; i++)
        {
            try
            {
                accepted.Add(await aiaas.Client.SubmitPredictAsync(new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }, ct));
            }
            catch (AiaasOverloadedException ex)
            {
                refused = ex;
            }
        }

        Assert.NotNull(refused);
        Assert.Equal(name, refused.Model);
        Assert.True(refused.RetryAfter > TimeSpan.Zero);
        Assert.Contains("admission limit", refused.Message, StringComparison.Ordinal);
        Assert.InRange(accepted.Count, AdmissionLimitSystem.MaxQueued, 99);

        var many = await Assert.ThrowsAsync<AiaasSubmitManyException>(() => aiaas.Client.SubmitPredictManyAsync(
            Enumerable.Range(0, 3).Select(_ => new PredictRequest { Model = name, Features = TestModels.RandomRecord(random) }), ct));
        Assert.Equal(3, many.Refusals.Count);
        Assert.All(many.Refusals.Values, r => Assert.IsType<AiaasOverloadedException>(r));

        var jobs = await aiaas.Client.WaitForAllAsync(accepted, ct);
        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
    }
}
