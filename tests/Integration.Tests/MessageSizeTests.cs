using System.Globalization;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Store;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>The broker system with a small message bound (64 KiB) in the workers and the API.</summary>
public sealed class SmallMessageBoundSystem : DistributedSystem
{
    public const int MaxMessageBytes = 64 * 1024;

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Transport__MaxMessageBytes"] = MaxMessageBytes.ToString(CultureInfo.InvariantCulture),
    };

    protected override IReadOnlyDictionary<string, string?> ApiSettings => new Dictionary<string, string?>
    {
        ["Transport:MaxMessageBytes"] = MaxMessageBytes.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>Message size is bounded in the receive pipeline, before a message is deserialized.</summary>
public sealed class MessageSizeTests(SmallMessageBoundSystem system) : IClassFixture<SmallMessageBoundSystem>
{
    [Fact]
    public async Task AMessageAboveTheBoundGoesToTheErrorQueueUnreadAndTheWorkerGoesOn()
    {
        var ct = TestTimeout.After(90);
        var model = TestModels.UniqueName("size");
        await system.Client.RegisterModelAsync(model, new MemoryStream(TestModels.Classifier(seed: 3).Onnx), cancellationToken: ct);

        // About 200 KB of JSON: far above the bound, far below the values limit, so only the size can refuse it.
        var jobId = Guid.NewGuid();
        await system.ClientBus.Publish(new SubmitPredictJob
        {
            JobId = jobId,
            Model = model,
            Features = Enumerable.Range(0, 20_000).Select(i => i * 0.123457f).ToArray(),
            SubmittedAt = DateTimeOffset.UtcNow,
        }, ct);

        // The endpoint that takes the command refuses it (the registry takes no copy of commands: JobsQueued).
        var exception = await WaitForErrorAsync("predict-jobs_error", ct);
        Assert.Contains(nameof(ServiceDefaults.MessageTooLargeException), exception, StringComparison.Ordinal);

        Assert.Null(await system.ApiServices.GetRequiredService<IJobStore>().GetAsync(Tenants.DefaultTenantId, jobId, ct));
        Assert.All(system.Workers, w => Assert.False(w.HasExited));
        var small = await system.Client.PredictAsync(new PredictRequest { Model = model, Features = [0.5f, -1.25f, 3f, 2f] }, ct);
        Assert.Equal(JobStatus.Succeeded, small.Job.Status);
    }

    /// <summary>The exception type recorded on the first message of an error queue (left in the queue).</summary>
    private async Task<string> WaitForErrorAsync(string queue, CancellationToken ct)
    {
        var factory = new ConnectionFactory { Uri = system.Broker.Uri };
        await using var connection = await factory.CreateConnectionAsync(ct);
        for (var i = 0; ; i++)
        {
            Assert.True(i < 300, $"Nothing in {queue}:\n" + string.Join("\n", system.Workers.Select(w => w.Output)));
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            try
            {
                if (await channel.BasicGetAsync(queue, autoAck: false, ct) is { } message)
                {
                    await channel.BasicNackAsync(message.DeliveryTag, multiple: false, requeue: true, ct);
                    return message.BasicProperties.Headers?.TryGetValue("MT-Fault-ExceptionType", out var type) == true && type is byte[] bytes
                        ? Encoding.UTF8.GetString(bytes)
                        : "(no fault header)";
                }
            }
            catch (OperationInterruptedException)
            {
                // Not declared until its first error.
            }

            await Task.Delay(100, ct);
        }
    }
}
