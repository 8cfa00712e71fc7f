using System.Diagnostics;
using System.Globalization;
using System.Text;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The built <c>aiaas</c> CLI as users run it, a process with its output going to a pipe (not a terminal): Ctrl+C
/// (SIGINT) cancels the job, prints its outcome and exits 130; a train job's last lines say how it ended.
/// </summary>
public sealed class CliProcessTests(DistributedSystem system) : IClassFixture<DistributedSystem>
{
    [Fact]
    public async Task CtrlCDuringScoringCancelsTheBulkJobPrintsTheOutcomeAndExits130()
    {
        var ct = TestTimeout.After(150);
        var (_, onnx) = TestModels.Classifier(seed: 71, hidden: [256, 256]);
        var model = TestModels.UniqueName("cli-cancel");
        await system.Client.RegisterModelAsync(model, new MemoryStream(onnx), cancellationToken: ct);
        var folder = Directory.CreateTempSubdirectory("aiaas-cli-");
        try
        {
            var input = Path.Combine(folder.FullName, "records.csv");
            var random = new Random(3);
            var csv = new StringBuilder("f1,f2,f3,f4\n");
            for (var i = 0; i < 400_000; i++)
            {
                csv.AppendJoin(',', TestModels.RandomRecord(random).Select(v => v.ToString("R", CultureInfo.InvariantCulture))).Append('\n');
            }

            await File.WriteAllTextAsync(input, csv.ToString(), ct);
            var output = Path.Combine(folder.FullName, "scores.jsonl");
            using var cli = Start("score", "--api", system.ApiUrl.ToString(), "--model", model, "--input", input, "--output", output, "--chunk-size", "2000");
            await cli.WaitForLineAsync("uploaded, scoring", ct);
            await Task.Delay(1000, ct);

            cli.Interrupt();
            var exitCode = await cli.WaitForExitAsync(ct);

            Assert.Equal(130, exitCode);
            Assert.Contains("cancelling; the records scored so far are kept", cli.Output, StringComparison.Ordinal);
            Assert.Matches(@"cancelled: [\d,]+ scored", cli.Output);
            Assert.True(File.Exists(output), cli.Output);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ATrainJobsLastLinesOnAPipeSayHowItEnded()
    {
        var ct = TestTimeout.After(150);
        var model = TestModels.UniqueName("cli-train");
        using var cli = Start("train", "--api", system.ApiUrl.ToString(), "--rabbitmq", system.Broker.Uri.ToString(), "--model", model,
            "--data", Path.Combine(Repository.Root.FullName, "data", "iris.csv"), "--label", "species", "--epochs", "60");

        var exitCode = await cli.WaitForExitAsync(ct);

        Assert.True(exitCode == 0, cli.Output);
        var last = cli.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^2..];
        Assert.Contains(last, l => l.Contains(": succeeded on ", StringComparison.Ordinal) && l.Contains($"model {model} v1", StringComparison.Ordinal));
        Assert.Contains(last, l => l.StartsWith("last epoch: epoch ", StringComparison.Ordinal));
        Assert.DoesNotContain("queued", last[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithHttpAPredictJobNeedsNoBroker()
    {
        var ct = TestTimeout.After(60);
        var (_, onnx) = TestModels.Classifier(seed: 73);
        var model = TestModels.UniqueName("cli-http");
        await system.Client.RegisterModelAsync(model, new MemoryStream(onnx), cancellationToken: ct);

        // A broker address where nothing listens: over HTTP it is never used.
        using var cli = Start("predict", "-m", model, "-f", "5.1,3.5,1.4,0.2", "--http", "--api", system.ApiUrl.ToString(),
            "--rabbitmq", "amqp://guest:guest@127.0.0.1:9/");
        var exitCode = await cli.WaitForExitAsync(ct);

        Assert.True(exitCode == 0, cli.Output);
        Assert.Contains("\"status\": \"Succeeded\"", cli.Output, StringComparison.Ordinal);
    }

    private static CliProcess Start(params string[] arguments) => new(arguments);
}
