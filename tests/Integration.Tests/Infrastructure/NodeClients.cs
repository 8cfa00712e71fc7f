using System.Diagnostics;

namespace AIaaS.Queue.Integration.Tests.Infrastructure;

/// <summary>Runs the Node.js clients in <c>tests/Integration.Tests/node</c>, installing their packages (pinned by its
/// package-lock.json, from the npm registry) into that folder on first use.</summary>
internal static class NodeClients
{
    private static readonly SemaphoreSlim InstallGate = new(1, 1);
    private static readonly string[] Packages = ["amqplib", "standardwebhooks", "openai"];

    public static string Folder { get; } = Path.Combine(Repository.Root.FullName, "tests", "Integration.Tests", "node");

    public static async Task<(int ExitCode, string Output)> RunAsync(string script, IEnumerable<string> arguments, string? stdin,
        CancellationToken cancellationToken)
    {
        await EnsureInstalledAsync(cancellationToken);
        return await RunProcessAsync("node", [script, .. arguments], stdin, cancellationToken);
    }

    /// <summary>Verifies a received webhook with the npm <c>standardwebhooks</c> library (an implementation independent of
    /// ours); exit code 0 and the verified payload as output when the signature holds.</summary>
    public static Task<(int ExitCode, string Output)> VerifyWebhookAsync(string secret, ReceivedWebhook webhook, CancellationToken cancellationToken)
    {
        var input = System.Text.Json.JsonSerializer.Serialize(new
        {
            secret,
            headers = new Dictionary<string, string>
            {
                ["webhook-id"] = webhook.Headers["webhook-id"],
                ["webhook-timestamp"] = webhook.Headers["webhook-timestamp"],
                ["webhook-signature"] = webhook.Headers["webhook-signature"],
            },
            body = webhook.Body,
        });
        return RunAsync("verify-webhook.js", [], input, cancellationToken);
    }

    private static async Task EnsureInstalledAsync(CancellationToken cancellationToken)
    {
        await InstallGate.WaitAsync(cancellationToken);
        try
        {
            if (Packages.All(package => Directory.Exists(Path.Combine(Folder, "node_modules", package))))
            {
                return;
            }

            var (code, output) = await RunProcessAsync("npm", ["ci", "--no-audit", "--no-fund"], null, cancellationToken);
            if (code != 0)
            {
                throw new InvalidOperationException("npm ci failed:\n" + output);
            }
        }
        finally
        {
            InstallGate.Release();
        }
    }

    private static async Task<(int, string)> RunProcessAsync(string file, IEnumerable<string> arguments, string? stdin, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = Folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
