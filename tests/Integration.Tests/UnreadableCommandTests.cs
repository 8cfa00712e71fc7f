using System.Text;
using System.Text.RegularExpressions;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using RabbitMQ.Client;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// Commands from plain AMQP clients that MassTransit cannot read as a <see cref="SubmitPredictJob"/> or a
/// <see cref="SubmitTrainJob"/>: the job they name ends Failed with the deserializer's reason instead of staying unknown,
/// and the message still reaches the queue's <c>_error</c> queue for operators. A command whose job id cannot be read has
/// nothing to fail.
/// </summary>
public sealed class UnreadableCommandTests(DistributedSystem system) : IClassFixture<DistributedSystem>
{
    [Theory]
    [InlineData("no submittedAt", """{"jobId":"JOB","model":"iris","features":[1,2,3,4]}""", "submittedAt")]
    [InlineData("a feature as a word", """{"jobId":"JOB","model":"iris","features":[1,"two",3,4],"submittedAt":"2026-11-29T10:00:00Z"}""", "features")]
    [InlineData("priority as an object", """{"jobId":"JOB","model":"iris","features":[1,2,3,4],"priority":{},"submittedAt":"2026-11-29T10:00:00Z"}""", "priority")]
    [InlineData("explain as a word", """{"jobId":"JOB","model":"iris","features":[1,2,3,4],"explain":"yes","submittedAt":"2026-11-29T10:00:00Z"}""", "explain must be true, false or an object")]
    public async Task AnUnreadableCommandFailsItsJobWithTheReason(string mistake, string message, string named)
    {
        var ct = TestTimeout.After(60);
        var jobId = Guid.CreateVersion7();

        await PublishAsync(message.Replace("JOB", jobId.ToString(), StringComparison.Ordinal), ct);
        var job = await WaitForJobAsync(jobId, ct);

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.StartsWith("The command could not be read as a SubmitPredictJob: ", job.Error, StringComparison.Ordinal);
        Assert.Contains(named, job.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("iris", job.Model);
        Assert.True(await InErrorQueueAsync(jobId, ct), $"{mistake}: the message should still be in predict-jobs_error");
    }

    [Fact]
    public async Task AnUnreadableTrainCommandFailsItsJobWithTheReason()
    {
        var ct = TestTimeout.After(60);
        var jobId = Guid.CreateVersion7();

        // The label column as a number, and no dataset.
        await PublishAsync($$"""{"jobId":"{{jobId}}","model":"iris","labelColumn":5,"submittedAt":"2026-11-29T10:00:00Z"}""", ct, nameof(SubmitTrainJob));
        var job = await WaitForJobAsync(jobId, ct);

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal(JobKind.Train, job.Kind);
        Assert.StartsWith("The command could not be read as a SubmitTrainJob: ", job.Error, StringComparison.Ordinal);
        Assert.Equal("iris", job.Model);
        Assert.True(await InErrorQueueAsync(jobId, ct, "train-jobs_error"), "the message should still be in train-jobs_error");
    }

    [Fact]
    public async Task AnUnreadableCommandWithoutAJobIdGoesOnlyToTheErrorQueue()
    {
        var ct = TestTimeout.After(60);
        var marker = Guid.CreateVersion7();

        await PublishAsync("""{"model":"iris","features":[1,2,3,4],"callbackUrl":"MARKER"}""".Replace("MARKER", marker.ToString(), StringComparison.Ordinal), ct);

        Assert.True(await InErrorQueueAsync(marker, ct));
    }

    /// <summary>Issue 13, findings 3 and 12: a command of megabytes from a publisher without a tenant's key is refused
    /// once and dead-lettered, and the worker goes on. Its fault event, which repeats the whole body, went to no consumer
    /// of the system; when that publish failed, the message went back to its queue and was read and refused again and
    /// again, the worker growing past a gigabyte (benchmark figure 13).</summary>
    [Fact]
    public async Task AnUnverifiedCommandOfMegabytesIsDeadLetteredOnceAndTheWorkerGoesOn()
    {
        var ct = TestTimeout.After(150);
        var jobId = Guid.CreateVersion7();
        var features = new StringBuilder("0.123456");
        while (features.Length < 10_000_000)
        {
            features.Append(",0.123456");
        }

        await PublishAsync($$"""{"jobId":"{{jobId}}","model":"iris","sender":{"tenantId":"alpha"},"features":[{{features}}],"submittedAt":"2026-11-29T10:00:00Z"}""", ct);

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(TimeSpan.FromSeconds(60));
        var deadLettered = false;
        try
        {
            deadLettered = await InErrorQueueAsync(jobId, wait.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }

        var refusals = system.Workers.Sum(w => Regex.Count(w.Output, Regex.Escape($"Refused SubmitPredictJob {jobId}")));
        Assert.True(deadLettered, $"not in predict-jobs_error within 60 s; refused {refusals} times");
        Assert.Equal(1, refusals);
        Assert.Null(await system.Client.GetJobAsync(jobId, ct));
        Assert.All(system.Workers, w => Assert.False(w.HasExited));
    }

    [Fact]
    public async Task ErrorQueuesAreBoundedInLengthAndAge()
    {
        var ct = TestTimeout.After(60);
        var marker = Guid.CreateVersion7();
        await PublishAsync("""{"model":"iris","callbackUrl":"MARKER"}""".Replace("MARKER", marker.ToString(), StringComparison.Ordinal), ct);
        Assert.True(await InErrorQueueAsync(marker, ct));

        // The broker refuses a declaration whose arguments differ from the queue's: these are the queue's bounds (and the
        // priority MassTransit copies from predict-jobs).
        var factory = new ConnectionFactory { Uri = system.Broker.Uri };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        var defaults = new AIaaS.Queue.ServiceDefaults.TransportOptions();
        await channel.QueueDeclareAsync("predict-jobs_error", durable: true, exclusive: false, autoDelete: false, new Dictionary<string, object?>
        {
            ["x-max-length"] = defaults.DeadLetterMaxLength,
            ["x-message-ttl"] = (long)defaults.DeadLetterTimeToLive.TotalMilliseconds,
            ["x-max-priority"] = 1,
        }, cancellationToken: ct);
        Assert.Equal(100_000, defaults.DeadLetterMaxLength);
        Assert.Equal(TimeSpan.FromDays(14), defaults.DeadLetterTimeToLive);
    }

    private async Task PublishAsync(string message, CancellationToken ct, string command = nameof(SubmitPredictJob))
    {
        var factory = new ConnectionFactory { Uri = system.Broker.Uri };
        await using var connection = await factory.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true,
            publisherConfirmationTrackingEnabled: true), ct);
        var messageId = Guid.NewGuid().ToString();
        var properties = new BasicProperties { ContentType = "application/vnd.masstransit+json", DeliveryMode = DeliveryModes.Persistent, MessageId = messageId };
        var envelope = $$"""{"messageId":"{{messageId}}","messageType":["urn:message:AIaaS.Queue.Contracts:{{command}}"],"message":{{message}}}""";
        await channel.BasicPublishAsync($"AIaaS.Queue.Contracts:{command}", "", mandatory: true, properties, Encoding.UTF8.GetBytes(envelope), ct);
    }

    private async Task<JobView> WaitForJobAsync(Guid jobId, CancellationToken ct)
    {
        while (true)
        {
            if (await system.Client.GetJobAsync(jobId, ct) is { Status: not (JobStatus.Queued or JobStatus.Running) } job)
            {
                return job;
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>Whether a message whose body mentions <paramref name="text"/> waits in the error queue (left there).</summary>
    private async Task<bool> InErrorQueueAsync(Guid text, CancellationToken ct, string queue = "predict-jobs_error")
    {
        var factory = new ConnectionFactory { Uri = system.Broker.Uri };
        await using var connection = await factory.CreateConnectionAsync(ct);
        while (!ct.IsCancellationRequested)
        {
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            try
            {
                while (await channel.BasicGetAsync(queue, autoAck: false, ct) is { } fault)
                {
                    if (Encoding.UTF8.GetString(fault.Body.Span).Contains(text.ToString(), StringComparison.Ordinal))
                    {
                        return true;
                    }
                }
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                // The error queue does not exist until its first message.
            }

            await Task.Delay(200, ct);
        }

        return false;
    }
}
