using System.CommandLine;
using System.Text.Json;
using AIaaS.Queue.Producer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AIaaS.Queue.Cli;

// aiaas embed.
internal static partial class CliApp
{
    private static Command EmbedCommand()
    {
        var model = new Option<string>("--model", "-m") { Description = "NAME of a model registered with a text-embedding recipe", Required = true };
        var text = new Argument<string>("text") { Description = "the text to embed" };
        var output = new Option<FileInfo>("--output", "-o") { Description = "write the embedding (a JSON array) to this file instead of the console" };
        var timeout = new Option<int>("--timeout") { Description = "seconds to wait for the embedding", DefaultValueFactory = _ => 300 };
        var command = new Command("embed", "Embed a text with a text-embedding model and print the embedding as a JSON array") { model, text, output, timeout };
        command.SetAction(async (parse, ct) =>
        {
            using var host = ClientHost(parse, withBroker: true);
            await host.StartAsync(ct);
            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(ct);
            waiting.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(timeout)));
            float[] embedding;
            try
            {
                embedding = await host.Services.GetRequiredService<IAiaasClient>().EmbedAsync(parse.GetValue(model)!, parse.GetValue(text)!, waiting.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await Console.Error.WriteLineAsync($"timed out after {parse.GetValue(timeout)} s");
                return 3;
            }

            var json = JsonSerializer.Serialize(embedding);
            if (parse.GetValue(output) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, json, ct);
                Console.WriteLine($"wrote {embedding.Length} values to {file.FullName}");
            }
            else
            {
                Console.WriteLine(json);
            }

            await host.StopAsync(ct);
            return 0;
        });
        return command;
    }
}
