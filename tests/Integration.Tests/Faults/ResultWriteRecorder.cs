using System.Collections.Concurrent;
using System.Text.Json;
using AIaaS.Queue.Store;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace AIaaS.Queue.Integration.Tests.Faults;

/// <summary>
/// Hears, straight from the broker, every event a worker publishes right after it stored a job's final state: a
/// <c>PredictBatchCompleted</c> after each batch's bulk write (one per batch id), a <c>JobFailed</c> after each job
/// that failed or expired before running. Each event therefore stands for one write of that job's result, and a job
/// named by two of them had its result written twice. Its queue is durable and its connection recovers by itself, so a
/// recorder outlives a broker restart: events published after the restart wait for it in the queue.
/// </summary>
internal sealed class ResultWriteRecorder : IAsyncDisposable
{
    private const string BatchCompletedExchange = "AIaaS.Queue.Contracts:PredictBatchCompleted";
    private const string JobFailedExchange = "AIaaS.Queue.Contracts:JobFailed";

    private readonly ConcurrentDictionary<Guid, ConcurrentBag<string>> _writes = new();
    private IConnection? _connection;
    private IChannel? _channel;
    private string? _queue;

    /// <summary>Every recorded write of a job's result, named by the batch (or "failed:" event id) that made it.</summary>
    public IReadOnlyCollection<string> WritesOf(Guid jobId) => _writes.TryGetValue(jobId, out var writes) ? writes : [];

    /// <summary>How many of <paramref name="jobIds"/> had a result write heard.</summary>
    public int HeardAmong(IEnumerable<Guid> jobIds) => jobIds.Count(_writes.ContainsKey);

    public static async Task<ResultWriteRecorder> StartAsync(Uri broker, CancellationToken cancellationToken)
    {
        var recorder = new ResultWriteRecorder();
        var factory = new ConnectionFactory
        {
            Uri = broker,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
        };
        recorder._connection = await factory.CreateConnectionAsync("aiaas-fault-recorder", cancellationToken);
        var channel = recorder._channel = await recorder._connection.CreateChannelAsync(cancellationToken: cancellationToken);
        var queue = recorder._queue = $"aiaas-fault-recorder-{Guid.NewGuid():N}";
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: cancellationToken);
        foreach (var exchange in new[] { BatchCompletedExchange, JobFailedExchange })
        {
            // Declared as MassTransit declares its publish exchanges, so that the workers' later declaration agrees.
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, cancellationToken: cancellationToken);
            await channel.QueueBindAsync(queue, exchange, "", cancellationToken: cancellationToken);
        }

        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            recorder.Record(delivery);
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue, autoAck: true, consumer, cancellationToken);
        return recorder;
    }

    private void Record(BasicDeliverEventArgs delivery)
    {
        using var envelope = JsonDocument.Parse(delivery.Body);
        var message = envelope.RootElement.GetProperty("message");
        if (delivery.Exchange == BatchCompletedExchange)
        {
            var batchId = message.GetProperty("batchId").GetString()!;
            foreach (var job in message.GetProperty("jobs").EnumerateArray())
            {
                Add(job.GetProperty("jobId").GetGuid(), batchId);
            }
        }
        else
        {
            Add(message.GetProperty("jobId").GetGuid(), "failed:" + envelope.RootElement.GetProperty("messageId").GetString());
        }
    }

    /// <summary>
    /// Duplicated, measured over the stored final jobs: each event a recorder heard stands for one write of a job's result.
    /// A job named by two different writers, or whose stored row carries a batch id other than the one writer heard of,
    /// had its result written twice. Events published while the broker was away are lost, so the measure covers only the
    /// jobs heard of (<c>Heard</c>), whose share the caller asserts.
    /// </summary>
    public (int Duplicated, int Heard) Duplicates(IEnumerable<JobRecord> jobs, Action<string> log)
    {
        var duplicated = 0;
        var heard = 0;
        foreach (var job in jobs)
        {
            var writers = WritesOf(job.JobId).Distinct().ToList();
            heard += writers.Count > 0 ? 1 : 0;
            if (writers.Count > 1 || (writers.Count == 1 && job.BatchId is not null && writers[0] != job.BatchId))
            {
                duplicated++;
                log($"written twice: {job.JobId} by {string.Join(", ", writers)}; stored batch {job.BatchId}");
            }
        }

        return (duplicated, heard);
    }

    private void Add(Guid jobId, string writer) => _writes.GetOrAdd(jobId, _ => []).Add(writer);

    public async ValueTask DisposeAsync()
    {
        if (_channel is not null)
        {
            try
            {
                await _channel.QueueDeleteAsync(_queue!);
            }
            catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.OperationInterruptedException or RabbitMQ.Client.Exceptions.AlreadyClosedException)
            {
                // The broker or the test's virtual host is gone already, and the queue with it.
            }

            await _channel.DisposeAsync();
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }
    }
}
