using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers;
using AIaaS.Queue.Workers.Consumers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>A worker that holds one predict message at a time, so that submitted jobs wait in the broker.</summary>
public sealed class SlowIntakeSystem : DistributedSystem
{
    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Workers__PrefetchCount"] = "1",
    };
}

/// <summary>The job registry: jobs submitted over the broker are known as queued before they run, registered a group at a
/// time (<see cref="JobsQueued"/>) instead of from a copy of every command.</summary>
public sealed class JobRegistrationTests(SlowIntakeSystem system) : IClassFixture<SlowIntakeSystem>
{
    private const string Commands = "AIaaS.Queue.Contracts:SubmitPredictJob";
    private const string Registry = "job-registry";

    [Fact]
    public async Task JobsWaitingInTheBrokerAreKnownAsQueuedAndTheRegistryTakesOneMessageForManyJobs()
    {
        var ct = TestTimeout.After(240);
        // A model of a few milliseconds per record, one record per call, one message held at a time: most jobs wait in the
        // broker for seconds.
        var (_, onnx) = TestModels.Classifier(seed: 53, hidden: [2048, 2048, 2048]);
        var name = TestModels.UniqueName("registry");
        await system.Client.RegisterModelAsync(name, new MemoryStream(onnx),
            new BatchingSettings { MaxBatchSize = 1, MaxQueueDelayMilliseconds = 0 }, cancellationToken: ct);
        var before = (await system.Broker.GetQueueAsync(Registry, ct)).MessageStats?.Published ?? 0;

        var random = new Random(53);
        var requests = Enumerable.Range(0, 600).Select(_ => new PredictRequest
        {
            JobId = Guid.CreateVersion7(),
            Model = name,
            Features = TestModels.RandomRecord(random),
        }).ToList();
        var ids = requests.Select(r => r.JobId!.Value).ToList();

        // While they are submitted and wait, the API knows them as queued: without a registration, a job is stored only once
        // it has ended.
        var store = system.ApiServices.GetRequiredService<IJobStore>();
        var keys = ids.Select(id => new JobKey(Tenants.DefaultTenantId, id)).ToList();
        var submitting = system.Client.SubmitPredictManyAsync(requests, ct);
        var mostQueued = 0;
        var final = 0;
        while (mostQueued < 100 && final < ids.Count)
        {
            var jobs = await store.GetManyAsync(keys, includeOutputs: false, ct);
            mostQueued = Math.Max(mostQueued, jobs.Count(j => j.Status == JobStatus.Queued));
            final = jobs.Count(j => j.IsFinal);
            await Task.Delay(20, ct);
        }

        Assert.True(mostQueued >= 100, $"At most {mostQueued} of {ids.Count} jobs were ever seen queued; {final} had ended.");
        Assert.Equal(ids, await submitting);

        var done = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));
        Assert.All(done, j => Assert.Equal(JobStatus.Succeeded, j.Status));

        // The registry is not bound to the command exchange, and it took far fewer messages than jobs (the management
        // statistics lag by seconds: wait until they count at least one).
        Assert.DoesNotContain(Registry, await system.Broker.GetBindingDestinationsAsync(Commands, ct));
        long registrations;
        while ((registrations = ((await system.Broker.GetQueueAsync(Registry, ct)).MessageStats?.Published ?? 0) - before) == 0)
        {
            await Task.Delay(500, ct);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{ids.Count} jobs, {registrations} registration messages, at most {mostQueued} seen queued at once");
        Assert.InRange(registrations, 1, ids.Count / 10);
    }

    [Fact]
    public async Task AWorkerRemovesTheBindingThatGaveTheRegistryACopyOfEveryCommand()
    {
        var ct = TestTimeout.After(60);
        // As a broker that ran an earlier version has it: MassTransit declares bindings but never removes them.
        var factory = new RabbitMQ.Client.ConnectionFactory { Uri = system.Broker.Uri };
        await using (var connection = await factory.CreateConnectionAsync(ct))
        await using (var channel = await connection.CreateChannelAsync(cancellationToken: ct))
        {
            await channel.ExchangeBindAsync(Registry, Commands, routingKey: "", cancellationToken: ct);
        }

        Assert.Contains(Registry, await system.Broker.GetBindingDestinationsAsync(Commands, ct));

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Transport:RabbitMqUri"] = system.Broker.Uri.ToString(),
        }).Build();
        await new LegacyRegistryBinding(configuration, Options.Create(new WorkerOptions()), NullLogger<LegacyRegistryBinding>.Instance).StartAsync(ct);

        Assert.DoesNotContain(Registry, await system.Broker.GetBindingDestinationsAsync(Commands, ct));
        var model = TestModels.UniqueName("registry-after");
        await system.Client.RegisterModelAsync(model, new MemoryStream(TestModels.Classifier(seed: 54).Onnx), cancellationToken: ct);
        var result = await system.Client.PredictAsync(new PredictRequest { Model = model, Features = [0.5f, -1.25f, 3f, 2f] }, ct);
        Assert.Equal(JobStatus.Succeeded, result.Job.Status);
    }
}
