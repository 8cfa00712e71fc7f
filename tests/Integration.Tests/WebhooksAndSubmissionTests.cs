using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.ResultApi.Webhooks;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>The broker system with webhooks on: two signing secrets (a rotation in progress, both generated here) and
/// loopback allowed explicitly, since the receiver is on 127.0.0.1. Short backoffs keep retries within a test.</summary>
public class WebhookSystem : DistributedSystem
{
    public string OldSecret { get; } = WebhookSigner.NewSecret();
    public string NewSecret { get; } = WebhookSigner.NewSecret();

    protected override IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>
    {
        ["Webhooks:Secrets:0"] = OldSecret,
        ["Webhooks:Secrets:1"] = NewSecret,
        ["Webhooks:AllowedHosts:0"] = "127.0.0.1",
        ["Webhooks:InitialBackoff"] = "00:00:00.200",
        ["Webhooks:MaxBackoff"] = "00:00:02",
        ["Webhooks:MaxAttempts"] = "5",
        ["Webhooks:AttemptTimeout"] = "00:00:03",
        ["Webhooks:PollInterval"] = "00:00:00.250",
    };
}

/// <summary>Signed webhook callbacks and submission without the SDK (HTTP, and raw AMQP from Node.js), on a real broker.</summary>
public sealed class WebhooksAndSubmissionTests(WebhookSystem system) : IClassFixture<WebhookSystem>, IAsyncLifetime
{
    private static readonly float[] Record = [0.5f, -1.25f, 3f, 2f];
    private static readonly int[] TwoRecordsShape = [2, 4];
    private WebhookReceiver _receiver = null!;
    private readonly HttpClient _http = new();

    public async ValueTask InitializeAsync()
    {
        _http.BaseAddress = system.ApiUrl;
        _receiver = await WebhookReceiver.StartAsync(TestTimeout.After(30));
    }

    public async ValueTask DisposeAsync()
    {
        await _receiver.DisposeAsync();
        _http.Dispose();
    }

    private async Task<string> RegisterModelAsync(string prefix, CancellationToken ct)
    {
        var (_, onnx) = TestModels.Classifier(seed: 21);
        var name = TestModels.UniqueName(prefix);
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
        return name;
    }

    private Task<HttpResponseMessage> SubmitAsync(object body, CancellationToken ct) => _http.PostAsJsonAsync("v1/jobs", body, WireJson.Options, ct);

    private async Task<IReadOnlyList<WebhookDeliveryView>> WaitForDeliveryAsync(Guid jobId, Func<WebhookDeliveryView, bool> done, CancellationToken ct)
    {
        while (true)
        {
            // 404 until the job is registered: a job submitted to the broker a moment ago may not be yet.
            using var response = await _http.GetAsync($"v1/jobs/{jobId}/webhooks", ct);
            var deliveries = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<List<WebhookDeliveryView>>(WireJson.Options, ct) : null;
            if (deliveries is { Count: > 0 } && deliveries.All(done))
            {
                return deliveries;
            }

            await Task.Delay(100, ct);
        }
    }

    private static Task<(int ExitCode, string Output)> VerifyWithStandardWebhooksAsync(string secret, ReceivedWebhook webhook, CancellationToken ct) =>
        NodeClients.VerifyWebhookAsync(secret, webhook, ct);

    [Fact]
    public async Task ATrainJobCancelledWhileStillQueuedSendsItsJobCancelledWebhook()
    {
        var ct = TestTimeout.After(180);
        // The worker runs one train job at a time: a long one holds the slot, so the second stays queued.
        var rows = Enumerable.Range(0, 60).Select(i => (IReadOnlyList<string>)[$"{i % 7}", $"{i % 5}", $"{i % 2}"]);
        TrainRequest LongTraining(Uri callback) => new()
        {
            Model = TestModels.UniqueName("queued"),
            Dataset = TrainRequest.InlineRows(["a", "b", "label"], rows),
            LabelColumn = "label",
            Hyperparameters = new TrainingHyperparameters { Epochs = 1_000_000, BatchSize = 1, EarlyStoppingPatience = 0 },
            CallbackUrl = callback,
        };
        var running = await system.Client.SubmitTrainAsync(LongTraining(_receiver.NewEndpoint()), ct);
        while ((await system.Client.GetJobAsync(running, ct))?.Status != JobStatus.Running)
        {
            await Task.Delay(100, ct);
        }

        var endpoint = _receiver.NewEndpoint();
        var queued = await system.Client.SubmitTrainAsync(LongTraining(endpoint), ct);
        while ((await system.Client.GetJobAsync(queued, ct))?.Status != JobStatus.Queued)
        {
            await Task.Delay(100, ct);
        }

        await system.Client.CancelAsync(queued, ct);
        var webhook = Assert.Single(await _receiver.WaitForAsync(endpoint, 1, ct));
        var payload = JsonNode.Parse(webhook.Body)!;
        Assert.Equal("job.cancelled", (string?)payload["type"]);
        Assert.Equal(queued, Guid.Parse((string)payload["data"]!["id"]!));
        var cancelled = (await system.Client.GetJobAsync(queued, ct))!;
        Assert.Equal(JobStatus.Cancelled, cancelled.Status);
        Assert.Null(cancelled.StartedAt);

        await system.Client.CancelAsync(running, ct);
        Assert.Equal(JobStatus.Cancelled, (await system.Client.WaitForCompletionAsync(running, ct)).Status);
    }

    [Fact]
    public async Task SucceededJobIsPostedAsASignedEventThatTheStandardWebhooksLibraryVerifiesWithEitherSecret()
    {
        var ct = TestTimeout.After(120);
        var model = await RegisterModelAsync("hook", ct);
        var endpoint = _receiver.NewEndpoint();
        var jobId = Guid.CreateVersion7();

        using var response = await SubmitAsync(new { jobId, model, features = Record, callbackUrl = endpoint }, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var webhook = Assert.Single(await _receiver.WaitForAsync(endpoint, 1, ct));

        Assert.StartsWith("application/json", webhook.Headers["content-type"]);
        Assert.Equal(2, webhook.Headers["webhook-signature"].Split(' ').Length);
        foreach (var secret in new[] { system.OldSecret, system.NewSecret })
        {
            var (code, output) = await VerifyWithStandardWebhooksAsync(secret, webhook, ct);
            Assert.True(code == 0, output);
            var verified = JsonNode.Parse(output)!;
            Assert.Equal("job.succeeded", (string?)verified["type"]);
            Assert.Equal(jobId, Guid.Parse((string)verified["data"]!["id"]!));
            Assert.Equal("succeeded", (string?)verified["data"]!["status"]);
            Assert.Equal($"/v1/jobs/{jobId}", (string?)verified["data"]!["links"]!["status"]);
            Assert.Equal($"/v1/jobs/{jobId}/output", (string?)verified["data"]!["links"]!["output"]);
        }

        // The verifier really checks: a changed body, or a secret nobody configured, fails.
        Assert.NotEqual(0, (await VerifyWithStandardWebhooksAsync(system.NewSecret, webhook with { Body = webhook.Body.Replace("succeeded", "failed") }, ct)).ExitCode);
        Assert.NotEqual(0, (await VerifyWithStandardWebhooksAsync(WebhookSigner.NewSecret(), webhook, ct)).ExitCode);

        var delivery = Assert.Single(await WaitForDeliveryAsync(jobId, d => d.State == WebhookDeliveryState.Delivered, ct));
        Assert.Equal(webhook.Headers["webhook-id"], delivery.Id);
        var attempt = Assert.Single(delivery.Attempts);
        Assert.Equal(200, attempt.StatusCode);
        Assert.True(attempt.LatencyMilliseconds > 0);
    }

    [Fact]
    public async Task ForgedCompletionEventsOnTheBrokerSendNoWebhookAndTheRealOnesStillGoOut()
    {
        var ct = TestTimeout.After(120);
        var model = await RegisterModelAsync("forged", ct);
        var forgerUrl = _receiver.NewEndpoint();
        var unknownJob = Guid.CreateVersion7();

        // A forged "succeeded" for a job that does not exist yet, and a forged failure, training end and bulk end for it.
        await system.ClientBus.Publish(new PredictBatchCompleted
        {
            BatchId = "x", Model = model, ModelVersion = 1, Device = "cpu", WorkerId = "x", BatchSize = 1, ModelMilliseconds = 0,
            CompletedAt = DateTimeOffset.UtcNow,
            Jobs = [new JobOutcome { JobId = unknownJob, Status = JobStatus.Succeeded, CallbackUrl = forgerUrl.ToString() }],
        }, ct);
        await system.ClientBus.Publish(new TrainJobFinished
        {
            JobId = Guid.CreateVersion7(), Model = model, Status = JobStatus.Succeeded, CallbackUrl = forgerUrl.ToString(), FinishedAt = DateTimeOffset.UtcNow,
        }, ct);
        await system.ClientBus.Publish(new BulkJobFinished
        {
            BulkJobId = Guid.CreateVersion7(), Model = model, Status = BulkJobStatus.Succeeded, Counts = new BulkJobCounts(),
            CallbackUrl = forgerUrl.ToString(), FinishedAt = DateTimeOffset.UtcNow,
        }, ct);

        // A real job that succeeded, then a forged failure for it with the forger's text and URL.
        var realUrl = _receiver.NewEndpoint();
        var realJob = await system.Client.SubmitPredictAsync(new PredictRequest { Model = model, Features = Record, CallbackUrl = realUrl }, ct);
        Assert.Equal(JobStatus.Succeeded, (await system.Client.WaitForCompletionAsync(realJob, ct)).Status);
        await system.ClientBus.Publish(new JobFailed
        {
            JobId = realJob, Kind = JobKind.Predict, Model = model, Error = "forged", CallbackUrl = forgerUrl.ToString(), FailedAt = DateTimeOffset.UtcNow,
        }, ct);

        var real = Assert.Single(await _receiver.WaitForAsync(realUrl, 1, ct));
        Assert.Equal("job.succeeded", (string?)JsonNode.Parse(real.Body)!["type"]);

        // Every forged event has been consumed (the queue is empty) and none reached the forger's URL.
        while (await system.Broker.GetReadyCountAsync("webhook-events", ct) > 0)
        {
            await Task.Delay(100, ct);
        }

        await Task.Delay(1000, ct); // several dispatcher polls
        Assert.Empty(_receiver.Received(forgerUrl));
        Assert.Single(_receiver.Received(realUrl));

        // The owner later submits the id the forger used: its own webhook goes to its own URL.
        var ownerUrl = _receiver.NewEndpoint();
        await system.Client.SubmitPredictAsync(new PredictRequest { JobId = unknownJob, Model = model, Features = Record, CallbackUrl = ownerUrl }, ct);
        var owners = Assert.Single(await _receiver.WaitForAsync(ownerUrl, 1, ct));
        Assert.Equal("job.succeeded", (string?)JsonNode.Parse(owners.Body)!["type"]);
        Assert.Equal([ownerUrl.ToString()], (await WaitForDeliveryAsync(unknownJob, _ => true, ct)).Select(d => d.Url));
        Assert.Equal(["job.succeeded"], (await WaitForDeliveryAsync(realJob, _ => true, ct)).Select(d => d.EventType));
    }

    [Fact]
    public async Task AFailingReceiverIsRetriedWithTheSameWebhookIdHonouringRetryAfterUntilItAnswers2xx()
    {
        var ct = TestTimeout.After(120);
        var model = await RegisterModelAsync("retry", ct);
        var endpoint = _receiver.NewEndpoint([500, 503, 200], retryAfterSeconds: 1);
        var jobId = Guid.CreateVersion7();

        using var response = await SubmitAsync(new { jobId, model, features = Record, callbackUrl = endpoint }, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var received = await _receiver.WaitForAsync(endpoint, 3, ct);

        Assert.Single(received.Select(r => r.Headers["webhook-id"]).Distinct());
        Assert.Single(received.Select(r => r.Body).Distinct());
        Assert.All(received.Skip(1).Zip(received), pair => Assert.True(pair.First.At - pair.Second.At >= TimeSpan.FromMilliseconds(900),
            $"retry after {(pair.First.At - pair.Second.At).TotalMilliseconds} ms; the receiver asked for 1 s"));
        var delivery = Assert.Single(await WaitForDeliveryAsync(jobId, d => d.State == WebhookDeliveryState.Delivered, ct));
        Assert.Equal([500, 503, 200], delivery.Attempts.Select(a => a.StatusCode));
        Assert.Equal([1, 2, 3], delivery.Attempts.Select(a => a.Number));
        Assert.NotNull(delivery.Attempts[0].Error);

        await Task.Delay(700, ct);
        Assert.Equal(3, _receiver.Received(endpoint).Count);
    }

    [Fact]
    public async Task A410GoneAnswerStopsDeliveryAfterOneAttempt()
    {
        var ct = TestTimeout.After(120);
        var model = await RegisterModelAsync("gone", ct);
        var endpoint = _receiver.NewEndpoint([410]);
        var jobId = Guid.CreateVersion7();

        using var response = await SubmitAsync(new { jobId, model, features = Record, callbackUrl = endpoint }, ct);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var delivery = Assert.Single(await WaitForDeliveryAsync(jobId, d => d.State == WebhookDeliveryState.Failed, ct));

        Assert.Equal(410, Assert.Single(delivery.Attempts).StatusCode);
        Assert.Null(delivery.NextAttemptAt);
        await Task.Delay(1500, ct); // several backoffs' worth
        Assert.Single(_receiver.Received(endpoint));
    }

    [Theory]
    [InlineData("http://10.1.2.3/hook")]
    [InlineData("http://192.168.0.10:8080/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://[::1]:9000/hook")]
    [InlineData("http://localhost:9000/hook")]
    [InlineData("ftp://example.com/hook")]
    [InlineData("not a url")]
    public async Task APrivateLoopbackOrNonHttpCallbackUrlIsRejectedWhenTheJobIsSubmitted(string callbackUrl)
    {
        var ct = TestTimeout.After(60);
        var jobId = Guid.CreateVersion7();

        using var response = await SubmitAsync(new { jobId, model = "any", features = Record, callbackUrl }, ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("CallbackUrl", await response.Content.ReadAsStringAsync(ct));
        using var lookup = await _http.GetAsync($"v1/jobs/{jobId}", ct);
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task APrivateCallbackUrlThatBypassedTheApiIsRefusedAtSendTimeWithoutRetrying()
    {
        var ct = TestTimeout.After(120);
        var model = await RegisterModelAsync("sdkhook", ct);

        // The SDK publishes straight to the broker, so only the dispatcher's own check stands between the job and 10.x.
        var jobId = await system.Client.SubmitPredictAsync(
            new Producer.PredictRequest { Model = model, Features = Record, CallbackUrl = new Uri("http://10.9.9.9/hook") }, ct);

        var delivery = Assert.Single(await WaitForDeliveryAsync(jobId, d => d.State == WebhookDeliveryState.Failed, ct));
        var attempt = Assert.Single(delivery.Attempts);
        Assert.Null(attempt.StatusCode);
        Assert.Contains("private", attempt.Error);
    }

    [Fact]
    public async Task AJobSubmittedOverHttpRunsAndARepeatedJobIdReturnsTheExistingJobInsteadOfASecond()
    {
        var ct = TestTimeout.After(120);
        var model = await RegisterModelAsync("http", ct);
        var jobId = Guid.CreateVersion7();
        var body = new { jobId, model, features = Record };

        using var first = await SubmitAsync(body, ct);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal($"/v1/jobs/{jobId}", first.Headers.Location?.OriginalString);
        var completed = await system.Client.WaitForCompletionAsync(jobId, ct);
        Assert.Equal(JobStatus.Succeeded, completed.Status);

        using var repeat = await SubmitAsync(body, ct);
        Assert.Equal(HttpStatusCode.OK, repeat.StatusCode);
        var existing = await repeat.Content.ReadFromJsonAsync<JobView>(WireJson.Options, ct);
        Assert.Equal((jobId, JobStatus.Succeeded, completed.BatchId), (existing!.Id, existing.Status, existing.BatchId));
        var output = await system.Client.GetOutputAsync(jobId, ct);
        Assert.Equal([1, 3], Assert.Single(output.Outputs).Shape);

        // The same validation as the workers': no record, an unknown model, an invalid train job.
        using var noRecord = await SubmitAsync(new { model }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, noRecord.StatusCode);
        using var unknownModel = await SubmitAsync(new { model = "no-such-model", features = Record }, ct);
        Assert.Equal(HttpStatusCode.NotFound, unknownModel.StatusCode);
        using var badTrain = await SubmitAsync(new { kind = "train", model = "m", dataset = new { fileId = "x" } }, ct);
        Assert.Equal(HttpStatusCode.BadRequest, badTrain.StatusCode);
        Assert.Contains("LabelColumn", await badTrain.Content.ReadAsStringAsync(ct));
    }

    [Fact]
    public async Task AJobEnqueuedByNodeAmqplibOnTheDocumentedWireFormatRunsAndIsReadOverHttp()
    {
        var ct = TestTimeout.After(120);
        var (mlp, onnx) = TestModels.Classifier(seed: 21);
        var model = TestModels.UniqueName("amqp");
        await system.Client.RegisterModelAsync(model, new MemoryStream(onnx), cancellationToken: ct);
        var endpoint = _receiver.NewEndpoint();
        var jobId = Guid.CreateVersion7();

        // The README's form: inputs as the Open Inference Protocol's tensors (two rows, the batch dimension first, data
        // nested by row), and the outputs asked for by name.
        var job = JsonSerializer.Serialize(new
        {
            jobId,
            model,
            inputs = new[] { new { name = mlp.InputName, datatype = "FP32", shape = TwoRecordsShape, data = new[] { Record, Record.Select(v => -v).ToArray() } } },
            outputs = new[] { new { name = mlp.OutputName } },
            callbackUrl = endpoint,
            submittedAt = DateTimeOffset.UtcNow,
        });

        var (code, output) = await NodeClients.RunAsync("submit-amqp.js", [system.Broker.Uri.ToString(), job], null, ct);
        Assert.True(code == 0, output);

        var completed = await system.Client.WaitForCompletionAsync(jobId, ct);
        Assert.Equal((JobStatus.Succeeded, model), (completed.Status, completed.Model));
        using var result = await _http.GetAsync($"v1/jobs/{jobId}/output", ct);
        Assert.Equal(HttpStatusCode.OK, result.StatusCode);
        var tensor = Assert.Single((await result.Content.ReadFromJsonAsync<JobOutputView>(WireJson.Options, ct))!.Outputs);
        Assert.Equal((mlp.OutputName, "FP32"), (tensor.Name, tensor.Datatype));
        Assert.Equal([2L, 3L], tensor.Shape);
        var expected = mlp.Forward([.. Record, .. Record.Select(v => -v)], 2);
        Assert.All(expected.Zip(tensor.ToFloats()), pair => Assert.Equal(pair.First, pair.Second, 1e-5f));
        var webhook = Assert.Single(await _receiver.WaitForAsync(endpoint, 1, ct));
        Assert.Equal(0, (await VerifyWithStandardWebhooksAsync(system.OldSecret, webhook, ct)).ExitCode);
    }
}
