using System.Diagnostics;
using System.Globalization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.ResultApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// Dynamic batching through RabbitMQ: the same model under saturating load, batching on versus max batch size 1,
// measured side by side in one run (this machine is shared and noisy: only the ratio is meaningful).
// Usage: dotnet run -c Release --project benchmarks/AIaaS.Queue.Benchmarks -- [amqp-uri] [jobs] [rounds]
var broker = new Uri(args.ElementAtOrDefault(0) ?? "amqp://guest:guest@127.0.0.1:5672/");
var jobs = int.Parse(args.ElementAtOrDefault(1) ?? "3000", CultureInfo.InvariantCulture);
var rounds = int.Parse(args.ElementAtOrDefault(2) ?? "2", CultureInfo.InvariantCulture);
using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(10));
var data = Directory.CreateTempSubdirectory("aiaas-bench-");

await using var app = AiaasServer.Build(new Dictionary<string, string?>
{
    ["Transport:RabbitMqUri"] = broker.ToString(),
    ["Transport:EndpointPrefix"] = $"bench-{Environment.ProcessId}-",
    ["ResultApi:HostWorkers"] = "true",
    ["Store:Kind"] = "Embedded",
    ["Store:EmbeddedPath"] = Path.Combine(data.FullName, "aiaas.db"),
    ["Workers:ModelCacheDirectory"] = Path.Combine(data.FullName, "models"),
    ["Workers:PrefetchCount"] = "512",
});
await app.StartAsync(deadline.Token);
var apiUrl = app.GetAddress();

var clientBuilder = Host.CreateApplicationBuilder();
clientBuilder.Logging.SetMinimumLevel(LogLevel.Warning);
clientBuilder.Services.AddAiaasClient(o => { o.ApiUrl = apiUrl; o.RabbitMqUri = broker; });
using var clientHost = clientBuilder.Build();
await clientHost.StartAsync(deadline.Token);
var client = clientHost.Services.GetRequiredService<IAiaasClient>();

// Big enough that batching matters on a CPU: 32 → 512 → 512 → 512 → 10.
var mlp = MlpModel.CreateRandom(32, [512, 512, 512], 10, Activation.Relu, OutputActivation.Softmax, seed: 1);
var onnx = OnnxModelWriter.Write(mlp);
await client.RegisterModelAsync("bench-batched", new MemoryStream(onnx), new BatchingSettings { MaxBatchSize = 64, MaxQueueDelayMilliseconds = 5 }, cancellationToken: deadline.Token);
await client.RegisterModelAsync("bench-single", new MemoryStream(onnx), new BatchingSettings { MaxBatchSize = 1, MaxQueueDelayMilliseconds = 0 }, cancellationToken: deadline.Token);

var random = new Random(3);
var records = Enumerable.Range(0, jobs).Select(_ => Enumerable.Range(0, 32).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();

async Task<(double JobsPerSecond, double MeanBatch)> RunAsync(string model, int count)
{
    var stopwatch = Stopwatch.StartNew();
    var ids = await client.SubmitPredictManyAsync(records.Take(count).Select(r => new PredictRequest { Model = model, Features = r }), deadline.Token);
    var done = await Task.WhenAll(ids.Select(id => client.WaitForCompletionAsync(id, deadline.Token)));
    var elapsed = stopwatch.Elapsed.TotalSeconds;
    if (done.Any(j => j.Status != JobStatus.Succeeded))
    {
        throw new InvalidOperationException($"{done.Count(j => j.Status != JobStatus.Succeeded)} jobs did not succeed");
    }

    return (count / elapsed, done.Average(j => j.BatchSize ?? 0));
}

// Warm up both models (session load, JIT), then alternate so that machine noise hits both alike.
await RunAsync("bench-batched", 200);
await RunAsync("bench-single", 200);
var batched = new List<(double, double)>();
var single = new List<(double, double)>();
for (var round = 0; round < rounds; round++)
{
    batched.Add(await RunAsync("bench-batched", jobs));
    single.Add(await RunAsync("bench-single", jobs));
}

var b = batched.Average(r => r.Item1);
var s = single.Average(r => r.Item1);
Console.WriteLine(FormattableString.Invariant($"model 32-512-512-512-10 MLP, {jobs} jobs × {rounds} rounds each, RabbitMQ at {broker.Host}, {Environment.ProcessorCount} cores"));
Console.WriteLine(FormattableString.Invariant($"batching on (max 64, 5 ms): {b:F0} jobs/s, mean batch {batched.Average(r => r.Item2):F1}"));
Console.WriteLine(FormattableString.Invariant($"max batch size 1:           {s:F0} jobs/s"));
Console.WriteLine(FormattableString.Invariant($"ratio: {b / s:F2}x"));

await clientHost.StopAsync(deadline.Token);
await app.StopAsync(deadline.Token);
data.Delete(recursive: true);
