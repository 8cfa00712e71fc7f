using System.Globalization;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.TestSupport;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace AIaaS.Queue.Benchmarks;

/// <summary>
/// Figure 13: a worker's resident memory under the memory reproductions of the adversarial review (issue 13, findings 2
/// and 3), each on a worker process of its own started for it, so that one reproduction's memory does not carry into the
/// next. Finding 2: many distinct 20 MB models, one job each, on a worker with no effective budget for loaded models (the
/// behaviour before the budget) against one with a 256 MiB budget and glibc's mmap threshold fixed (the Dockerfile's
/// setting). Finding 3: command messages of 50 MB and 10 MB published by a client without a tenant's proof, the first
/// above the broker's bound.
/// </summary>
internal static class MemoryFigures
{
    private const int HiddenWidth = 2240; // two 2,240-wide layers: 5 M weights, 20 MB of float32, the review's model size
    private const long BudgetBytes = 256L << 20;

    public static async Task RunAsync(Report report, int models, CancellationToken cancellationToken)
    {
        var noBudget = await ManyModelsAsync(models, new Dictionary<string, string>
        {
            ["Workers__LoadedModelBudgetBytes"] = (64L << 30).ToString(CultureInfo.InvariantCulture),
        }, cancellationToken);
        var budget = await ManyModelsAsync(models, new Dictionary<string, string>
        {
            ["Workers__LoadedModelBudgetBytes"] = BudgetBytes.ToString(CultureInfo.InvariantCulture),
            ["MALLOC_MMAP_THRESHOLD_"] = "131072",
        }, cancellationToken);
        report.Figure($"13. worker RSS (MiB) after {models} distinct 20 MB models, one job each (issue 13, finding 2): 256 MiB model budget and the image's MALLOC_MMAP_THRESHOLD_ / no effective budget (64 GiB, as before the budget)",
            $"{Describe(budget)} vs {Describe(noBudget)}", (double)budget.After / noBudget.After, null);

        var messages = await LargeMessagesAsync(cancellationToken);
        report.Figure("13. worker RSS (MiB) around a 50 MB predict command published without a tenant's proof (finding 3): before → after",
            $"{Mib(messages.Before)} → {Mib(messages.AfterLarge)}; the broker answered: {messages.LargeOutcome}", (double)messages.AfterLarge / messages.Before, null);
        report.Figure("13. the same, a 10 MB command (under the broker's 16 MiB bound, read and dead-lettered as from an unverified sender): before → after",
            $"{Mib(messages.AfterLarge)} → {Mib(messages.AfterMedium)}; {messages.MediumOutcome}", (double)messages.AfterMedium / messages.AfterLarge, null);
    }

    private sealed record ManyModels(long Before, long After, long Peak, long Settled);

    private static string Describe(ManyModels m) =>
        $"{Mib(m.Before)} → {Mib(m.After)} (peak {Mib(m.Peak)}, {Mib(m.Settled)} 10 s later)";

    private static async Task<ManyModels> ManyModelsAsync(int models, Dictionary<string, string> workerSettings, CancellationToken cancellationToken)
    {
        await using var broker = new RabbitMqBroker();
        await broker.InitializeAsync();
        await using var cluster = await Cluster.StartAsync(broker.Uri, workers: 1, cancellationToken, workerSettings, warmUp: false);
        var worker = cluster.Workers[0];
        var client = cluster.Client;

        // A small model first, so that "before" counts a worker that has loaded ONNX Runtime and served a job.
        var warm = MlpModel.CreateRandom(4, [8], 2, Activation.Relu, OutputActivation.Softmax, seed: 1);
        await client.RegisterModelAsync("memory-warm", new MemoryStream(OnnxModelWriter.Write(warm)), cancellationToken: cancellationToken);
        await PredictAsync(client, "memory-warm", warm, cancellationToken);
        var before = worker.CurrentMemoryBytes() ?? 0;

        for (var i = 0; i < models; i++)
        {
            // Distinct weights per model (its own seed), so that no two versions share a file or a loaded session.
            var model = MlpModel.CreateRandom(32, [HiddenWidth, HiddenWidth], 10, Activation.Relu, OutputActivation.Softmax, seed: 100 + i);
            var name = $"memory-{i}";
            await client.RegisterModelAsync(name, new MemoryStream(OnnxModelWriter.Write(model)), cancellationToken: cancellationToken);
            await PredictAsync(client, name, model, cancellationToken);
        }

        var after = worker.CurrentMemoryBytes() ?? 0;
        var peak = worker.PeakMemoryBytes() ?? 0;
        await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
        return new ManyModels(before, after, peak, worker.CurrentMemoryBytes() ?? 0);
    }

    private static async Task PredictAsync(IAiaasClient client, string name, MlpModel model, CancellationToken cancellationToken)
    {
        var features = Enumerable.Range(0, model.InputSize).Select(i => i * 0.01f).ToArray();
        var result = await client.PredictAsync(new PredictRequest { Model = name, Features = features }, cancellationToken);
        if (result.Job.Status != JobStatus.Succeeded)
        {
            throw new InvalidOperationException($"Job of {name} ended {result.Job.Status}: {result.Job.Error}");
        }
    }

    private sealed record Messages(long Before, long AfterLarge, string LargeOutcome, long AfterMedium, string MediumOutcome);

    private static async Task<Messages> LargeMessagesAsync(CancellationToken cancellationToken)
    {
        await using var broker = new RabbitMqBroker();
        await broker.InitializeAsync();
        await using var cluster = await Cluster.StartAsync(broker.Uri, workers: 1, cancellationToken, warmUp: false);
        var worker = cluster.Workers[0];
        var warm = MlpModel.CreateRandom(4, [8], 2, Activation.Relu, OutputActivation.Softmax, seed: 1);
        await cluster.Client.RegisterModelAsync("memory-warm", new MemoryStream(OnnxModelWriter.Write(warm)), cancellationToken: cancellationToken);
        await PredictAsync(cluster.Client, "memory-warm", warm, cancellationToken);
        var before = worker.CurrentMemoryBytes() ?? 0;

        var factory = new ConnectionFactory { Uri = broker.Uri };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken);
        var large = await PublishAsync(connection, "memory-warm", 50_000_000, cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
        var afterLarge = worker.CurrentMemoryBytes() ?? 0;

        var medium = await PublishAsync(connection, "memory-warm", 10_000_000, cancellationToken);
        var dead = await WaitForDeadLetterAsync(connection, cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
        var afterMedium = worker.CurrentMemoryBytes() ?? 0;
        if (worker.HasExited)
        {
            throw new InvalidOperationException("The worker exited:\n" + worker.Output);
        }

        // The worker still serves a tenant's own jobs.
        await PredictAsync(cluster.Client, "memory-warm", warm, cancellationToken);
        return new Messages(before, afterLarge, large, afterMedium, medium + (dead ? ", then dead-lettered" : ", not dead-lettered within 60 s"));
    }

    /// <summary>Publishes a <see cref="SubmitPredictJob"/> of about <paramref name="bytes"/> of JSON that names tenant
    /// <c>alpha</c> with no key, as a client with broker credentials and no tenant key could, and says what the broker answered.</summary>
    private static async Task<string> PublishAsync(IConnection connection, string model, int bytes, CancellationToken cancellationToken)
    {
        var body = Envelope(model, bytes);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), cancellationToken);
        try
        {
            await channel.BasicPublishAsync($"AIaaS.Queue.Contracts:{nameof(SubmitPredictJob)}", "", mandatory: false,
                new BasicProperties { ContentType = "application/vnd.masstransit+json", Persistent = true }, body, cancellationToken);
            return $"{Mib(body.Length)} MiB accepted";
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or PublishException)
        {
            var reason = channel.CloseReason;
            return $"{Mib(body.Length)} MiB refused ({(reason is null ? e.GetType().Name : $"{reason.ReplyCode} {reason.ReplyText}")})";
        }
    }

    private static byte[] Envelope(string model, int bytes)
    {
        var json = new StringBuilder(bytes + 512);
        json.Append(CultureInfo.InvariantCulture, $$"""{"messageId":"{{Guid.NewGuid()}}","messageType":["urn:message:AIaaS.Queue.Contracts:SubmitPredictJob"],"message":{"jobId":"{{Guid.NewGuid()}}","model":"{{model}}","submittedAt":"{{DateTimeOffset.UtcNow:O}}","sender":{"tenantId":"alpha"},"features":[0.123456""");
        while (json.Length < bytes)
        {
            json.Append(",0.123456");
        }

        json.Append("]}}");
        return Encoding.UTF8.GetBytes(json.ToString());
    }

    /// <summary>Whether the unverified command reached the predict queue's error queue within a minute.</summary>
    private static async Task<bool> WaitForDeadLetterAsync(IConnection connection, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 600; i++)
        {
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            try
            {
                if ((await channel.QueueDeclarePassiveAsync("predict-jobs_error", cancellationToken)).MessageCount > 0)
                {
                    return true;
                }
            }
            catch (OperationInterruptedException)
            {
                // Not declared until its first error.
            }

            await Task.Delay(100, cancellationToken);
        }

        return false;
    }

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("F0", CultureInfo.InvariantCulture);
}
