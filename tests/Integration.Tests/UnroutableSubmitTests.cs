using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// A client pointed at a virtual host where no worker or ResultApi ever started (a typo in the URI, the wrong broker): the
/// SDK declares the command exchanges itself, so the broker would confirm each publish and drop it. Every submission must
/// fail loudly instead, naming the broker and virtual host, and the CLI must exit non-zero.
/// </summary>
public sealed class UnroutableSubmitTests : IAsyncLifetime
{
    private readonly RabbitMqBroker _empty = new();

    public ValueTask InitializeAsync() => _empty.InitializeAsync();

    public ValueTask DisposeAsync() => _empty.DisposeAsync();

    [Fact]
    public async Task JobsPublishedWhereNoQueueListensFailWithTheBrokerAndVirtualHostNamed()
    {
        var ct = TestTimeout.After(60);
        using var host = Host.CreateApplicationBuilder().Also(b => b.Services.AddAiaasClient(o =>
        {
            o.ApiUrl = new Uri("http://127.0.0.1:9/");
            o.RabbitMqUri = _empty.Uri;
        })).Build();
        await host.StartAsync(ct);
        var client = host.Services.GetRequiredService<IAiaasClient>();

        var predict = await Assert.ThrowsAsync<AiaasPublishException>(() =>
            client.SubmitPredictAsync(new PredictRequest { Model = "iris", Features = [1, 2, 3, 4] }, ct));
        var train = await Assert.ThrowsAsync<AiaasPublishException>(() => client.SubmitTrainAsync(new TrainRequest
        {
            Model = "iris",
            LabelColumn = "y",
            Dataset = new TrainingDataset { Columns = ["x", "y"], Rows = [["1", "a"], ["2", "b"]] },
        }, ct));

        foreach (var refused in new[] { predict, train })
        {
            Assert.True(refused.IsUnroutable);
            Assert.Contains($"virtual host '{_empty.VirtualHost}'", refused.Message, StringComparison.Ordinal);
            Assert.Contains("was not queued", refused.Message, StringComparison.Ordinal);
        }

        await host.StopAsync(ct);
    }

    [Fact]
    public async Task AJobAboveTheBrokersMessageSizeFailsSayingSo()
    {
        var ct = TestTimeout.After(60);
        using var host = Host.CreateApplicationBuilder().Also(b => b.Services.AddAiaasClient(o =>
        {
            o.ApiUrl = new Uri("http://127.0.0.1:9/");
            o.RabbitMqUri = _empty.Uri;
            o.PublishTimeout = TimeSpan.FromSeconds(10);
        })).Build();
        await host.StartAsync(ct);
        var client = host.Services.GetRequiredService<IAiaasClient>();

        // About 18 MB of JSON, above the broker's 16 MiB max_message_size (scripts/rabbitmq.conf).
        var refused = await Assert.ThrowsAsync<AiaasPublishException>(() =>
            client.SubmitPredictAsync(new PredictRequest { Model = "iris", Features = [.. Enumerable.Range(0, 2_000_000).Select(i => i * 0.123457f)] }, ct));

        Assert.Contains("larger than the broker accepts (16,777,216 bytes", refused.Message, StringComparison.Ordinal);
        Assert.False(refused.IsUnroutable);
        await host.StopAsync(ct);
    }

    [Fact]
    public async Task TheCliExitsNonZeroAndSaysWhere()
    {
        var ct = TestTimeout.After(60);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { Repository.CliAssembly(), "predict", "-m", "iris", "-f", "1,2,3,4",
            "--api", "http://127.0.0.1:9/", "--rabbitmq", _empty.Uri.ToString() })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync(ct);
        var output = process.StandardOutput.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);

        Assert.Equal(1, process.ExitCode);
        Assert.DoesNotContain("submitted", await output, StringComparison.Ordinal);
        Assert.Contains($"virtual host '{_empty.VirtualHost}'", await error, StringComparison.Ordinal);
    }
}

internal static class BuilderExtensions
{
    public static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
