using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace AIaaS.Queue.Cli;

/// <summary>The <c>aiaas</c> command line: a thin layer over the SDK, plus the embedded quickstart.</summary>
internal static partial class CliApp
{
    private static readonly JsonSerializerOptions Pretty = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static readonly Option<Uri> ApiOption = new("--api")
    {
        Description = "ResultApi base address (env AIAAS_API_URL)",
        DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("AIAAS_API_URL") ?? "http://127.0.0.1:5080"),
        CustomParser = ParseUri,
        Recursive = true,
    };

    private static readonly Option<Uri> RabbitOption = new("--rabbitmq")
    {
        Description = "RabbitMQ to publish jobs to (env AIAAS_RABBITMQ_URI)",
        DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("AIAAS_RABBITMQ_URI") ?? "amqp://127.0.0.1:5672/"),
        CustomParser = ParseUri,
        Recursive = true,
    };

    /// <summary>The tenant's API key, when the deployment requires keys.</summary>
    internal const string ApiKeyVariable = "AIAAS_API_KEY";

    public static RootCommand Build()
    {
        var root = new RootCommand($"aiaas: submit AI jobs to AIaaS.Queue and read their results (API key: env {ApiKeyVariable})");
        root.Options.Add(ApiOption);
        root.Options.Add(RabbitOption);
        root.Subcommands.Add(Quickstart.Command());
        root.Subcommands.Add(PredictCommand());
        root.Subcommands.Add(StatusCommand());
        root.Subcommands.Add(ModelsCommand());
        root.Subcommands.Add(TrainCommand());
        root.Subcommands.Add(ScoreCommand());
        root.Subcommands.Add(CancelCommand());
        root.Subcommands.Add(EventsCommand());
        return root;
    }

    private static Command PredictCommand()
    {
        var model = new Option<string>("--model", "-m") { Description = "NAME or NAME:VERSION", Required = true };
        var features = new Option<string>("--features", "-f") { Description = "comma-separated values of one record", Required = true };
        var noWait = new Option<bool>("--no-wait") { Description = "print the job id and return without waiting" };
        var timeout = new Option<int>("--timeout") { Description = "seconds to wait for the result", DefaultValueFactory = _ => 300 };
        var command = new Command("predict", "Submit one predict job and print its result") { model, features, noWait, timeout };
        command.SetAction(async (parse, ct) =>
        {
            var (name, version) = ParseModel(parse.GetValue(model)!);
            var values = parse.GetValue(features)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            using var host = ClientHost(parse, withBroker: true);
            await host.StartAsync(ct);
            var client = host.Services.GetRequiredService<IAiaasClient>();
            var jobId = await client.SubmitPredictAsync(new PredictRequest { Model = name, ModelVersion = version, Features = values }, ct);
            Console.WriteLine($"submitted {jobId}");
            if (!parse.GetValue(noWait))
            {
                using var waiting = CancellationTokenSource.CreateLinkedTokenSource(ct);
                waiting.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(timeout)));
                JobView job;
                try
                {
                    job = await client.WaitForCompletionAsync(jobId, waiting.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    var current = await client.GetJobAsync(jobId, ct);
                    await Console.Error.WriteLineAsync($"timed out after {parse.GetValue(timeout)} s; the job is {current?.Status.ToString().ToLowerInvariant() ?? "not known to the ResultApi yet"}");
                    return 3;
                }

                Console.WriteLine(JsonSerializer.Serialize(job, Pretty));
                if (job.Status == JobStatus.Succeeded)
                {
                    Console.WriteLine(JsonSerializer.Serialize((await client.GetOutputAsync(jobId, ct)).Outputs, Pretty));
                }

                await host.StopAsync(ct);
                return job.Status == JobStatus.Succeeded ? 0 : 1;
            }

            await host.StopAsync(ct);
            return 0;
        });
        return command;
    }

    private static Command StatusCommand()
    {
        var jobId = new Argument<Guid>("job-id");
        var command = new Command("status", "Print a job's status") { jobId };
        command.SetAction(async (parse, ct) =>
        {
            using var host = ClientHost(parse, withBroker: false);
            var job = await host.Services.GetRequiredService<IAiaasClient>().GetJobAsync(parse.GetValue(jobId), ct);
            Console.WriteLine(job is null ? "unknown job" : JsonSerializer.Serialize(job, Pretty));
            return job is null ? 2 : 0;
        });
        return command;
    }

    private static Command ModelsCommand()
    {
        var models = new Command("models", "List, register and create models");

        var list = new Command("list", "List registered model versions");
        list.SetAction(async (parse, ct) =>
        {
            using var host = ClientHost(parse, withBroker: false);
            var table = new Table().AddColumns("name", "version", "inputs", "outputs", "size", "created");
            foreach (var m in await host.Services.GetRequiredService<IAiaasClient>().ListModelsAsync(ct))
            {
                table.AddRow(new[] { m.Name, m.Version.ToString(CultureInfo.InvariantCulture), Describe(m.Inputs), Describe(m.Outputs),
                    m.SizeBytes.ToString("N0", CultureInfo.InvariantCulture), m.CreatedAt.ToString("u", CultureInfo.InvariantCulture) }
                    .Select(cell => new Text(cell)));
            }

            AnsiConsole.Write(table);
        });

        var name = new Option<string>("--name", "-n") { Description = "model name", Required = true };
        var file = new Option<FileInfo>("--file") { Description = "ONNX file", Required = true };
        var maxBatch = new Option<int?>("--max-batch-size") { Description = "dynamic batching: largest batch" };
        var maxDelay = new Option<double?>("--max-delay-ms") { Description = "dynamic batching: longest wait of the oldest request" };
        var register = new Command("register", "Register an ONNX file as the next version of a model") { name, file, maxBatch, maxDelay };
        register.SetAction(async (parse, ct) =>
        {
            using var host = ClientHost(parse, withBroker: false);
            await using var stream = parse.GetValue(file)!.OpenRead();
            var batching = parse.GetValue(maxBatch) is null && parse.GetValue(maxDelay) is null ? null
                : new BatchingSettings { MaxBatchSize = parse.GetValue(maxBatch), MaxQueueDelayMilliseconds = parse.GetValue(maxDelay) };
            var view = await host.Services.GetRequiredService<IAiaasClient>().RegisterModelAsync(parse.GetValue(name)!, stream, batching, null, ct);
            Console.WriteLine(JsonSerializer.Serialize(view, Pretty));
        });

        var output = new Option<FileInfo>("--output", "-o") { Description = "where to write the ONNX file", Required = true };
        var inputs = new Option<int>("--inputs") { Description = "features per record", DefaultValueFactory = _ => 4 };
        var hidden = new Option<string>("--hidden") { Description = "hidden layer sizes, comma-separated", DefaultValueFactory = _ => "64,64" };
        var classes = new Option<int>("--classes") { Description = "output classes (softmax)", DefaultValueFactory = _ => 3 };
        var create = new Command("create-demo", "Write a randomly initialised MLP classifier as a real ONNX file") { output, inputs, hidden, classes };
        create.SetAction(parse =>
        {
            var sizes = parse.GetValue(hidden)!.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            var mlp = MlpModel.CreateRandom(parse.GetValue(inputs), sizes, parse.GetValue(classes), Activation.Relu, OutputActivation.Softmax, seed: 42);
            using var stream = parse.GetValue(output)!.Create();
            OnnxModelWriter.Write(mlp, stream);
            Console.WriteLine($"wrote {parse.GetValue(output)!.FullName}");
        });

        models.Subcommands.Add(list);
        models.Subcommands.Add(register);
        models.Subcommands.Add(create);
        return models;
    }

    private static IHost ClientHost(ParseResult parse, bool withBroker)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddAiaasClient(o =>
        {
            o.ApiUrl = parse.GetValue(ApiOption)!;
            o.RabbitMqUri = withBroker ? parse.GetValue(RabbitOption) : null;

            // From the environment only: a key on the command line would show in the process list and shell history.
            o.ApiKey = Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key ? key : null;
        });
        return builder.Build();
    }

    private static Uri? ParseUri(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Single().Value;
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            return uri;
        }

        result.AddError($"'{text}' is not an absolute URI.");
        return null;
    }

    internal static (string Name, int? Version) ParseModel(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon < 0 || text[(colon + 1)..] == "latest"
            ? (colon < 0 ? text : text[..colon], null)
            : (text[..colon], int.Parse(text[(colon + 1)..], CultureInfo.InvariantCulture));
    }

    internal static string Describe(IReadOnlyList<TensorSpec> tensors) =>
        string.Join("; ", tensors.Select(t => $"{t.Name} {t.ElementType}[{string.Join(",", t.Shape)}]"));
}
