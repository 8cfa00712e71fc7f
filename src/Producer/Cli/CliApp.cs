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

/// <summary>The <c>aiaas</c> command line: a thin layer over the SDK (the quickstart lives in the Server, which hosts what it runs).</summary>
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

    private static readonly Option<bool> HttpOption = new("--http")
    {
        Description = "submit jobs through the ResultApi's HTTP API instead of the broker: no broker access needed (env AIAAS_TRANSPORT=http)",
        DefaultValueFactory = _ => string.Equals(Environment.GetEnvironmentVariable("AIAAS_TRANSPORT"), "http", StringComparison.OrdinalIgnoreCase),
        Recursive = true,
    };

    /// <summary>The tenant's API key, when the deployment requires keys.</summary>
    internal const string ApiKeyVariable = "AIAAS_API_KEY";

    public static RootCommand Build()
    {
        var root = new RootCommand($"aiaas: submit AI jobs to AIaaS.Queue and read their results (API key: env {ApiKeyVariable})");
        root.Options.Add(ApiOption);
        root.Options.Add(RabbitOption);
        root.Options.Add(HttpOption);
        root.Subcommands.Add(PredictCommand());
        root.Subcommands.Add(EmbedCommand());
        root.Subcommands.Add(StatusCommand());
        root.Subcommands.Add(ModelsCommand());
        root.Subcommands.Add(TrainCommand());
        root.Subcommands.Add(ScoreCommand());
        root.Subcommands.Add(CancelCommand());
        root.Subcommands.Add(EventsCommand());
        root.Subcommands.Add(AdminCommand());
        return root;
    }

    private static Command PredictCommand()
    {
        var model = new Option<string>("--model", "-m") { Description = "NAME or NAME:VERSION", Required = true };
        var features = new Option<string>("--features", "-f") { Description = "comma-separated values of one record, for a model with one float input" };
        var inputs = new Option<string[]>("--input", "-i")
        {
            Description = "a named tensor: name:DATATYPE:shape:data, shape x-separated, data a JSON array (input_ids:INT64:1x3:[101,7592,102]); repeatable",
        };
        var inputsFile = new Option<FileInfo>("--inputs-file") { Description = "a JSON file: an Open Inference Protocol request, or a list of tensors" };
        var text = new Option<string>("--text") { Description = "text, for a model registered with a text recipe" };
        var image = new Option<FileInfo>("--image") { Description = "an image file (PNG, JPEG, WebP), for a model registered with an image recipe" };
        var outputs = new Option<string[]>("--output") { Description = "an output to compute and return (all by default); repeatable" };
        var noWait = new Option<bool>("--no-wait") { Description = "print the job id and return without waiting" };
        var timeout = new Option<int>("--timeout") { Description = "seconds to wait for the result", DefaultValueFactory = _ => 300 };
        var command = new Command("predict", "Submit one predict job and print its result")
        {
            model, features, inputs, inputsFile, text, image, outputs, noWait, timeout,
        };
        var explain = new ExplainOptionsCli();
        explain.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var (name, version) = ParseModel(parse.GetValue(model)!);
            var (record, problem) = await ReadRecordAsync(parse, new RecordOptions(features, inputs, inputsFile, text, image), ct);
            if (problem is not null)
            {
                await Console.Error.WriteLineAsync(problem);
                return 2;
            }

            using var host = ClientHost(parse, withBroker: true);
            await host.StartAsync(ct);
            var client = host.Services.GetRequiredService<IAiaasClient>();
            var jobId = await client.SubmitPredictAsync(record! with
            {
                Model = name, ModelVersion = version, Outputs = parse.GetValue(outputs) is { Length: > 0 } named ? named : record.Outputs,
                Explain = explain.Read(parse),
            }, ct);
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
                    var output = await client.GetOutputAsync(jobId, ct);
                    PrintOutputs(output.Outputs);
                    if (output.Explanation is { } explanation)
                    {
                        ExplainOptionsCli.Print(explanation);
                    }
                }

                await host.StopAsync(ct);
                return job.Status == JobStatus.Succeeded ? 0 : 1;
            }

            await host.StopAsync(ct);
            return 0;
        });
        return command;
    }

    /// <summary>The ways <c>predict</c> takes its record.</summary>
    private sealed record RecordOptions(Option<string> Features, Option<string[]> Inputs, Option<FileInfo> InputsFile, Option<string> Text, Option<FileInfo> Image);

    /// <summary>The record to predict on (Model left empty), from exactly one of -f, --input, --inputs-file, --text and --image,
    /// with the outputs a file asks for.</summary>
    private static async Task<(PredictRequest? Record, string? Problem)> ReadRecordAsync(ParseResult parse, RecordOptions options, CancellationToken cancellationToken)
    {
        var featureText = parse.GetValue(options.Features);
        var given = parse.GetValue(options.Inputs) ?? [];
        var file = parse.GetValue(options.InputsFile);
        var text = parse.GetValue(options.Text);
        var image = parse.GetValue(options.Image);
        if ((featureText is null ? 0 : 1) + (given.Length == 0 ? 0 : 1) + (file is null ? 0 : 1) + (text is null ? 0 : 1) + (image is null ? 0 : 1) != 1)
        {
            return (null, "Give the record in one way: -f (float features), --input (tensors), --inputs-file, --text or --image.");
        }

        if (text is not null)
        {
            return (new PredictRequest { Model = "", Text = text }, null);
        }

        if (image is not null)
        {
            return (new PredictRequest { Model = "", Image = await File.ReadAllBytesAsync(image.FullName, cancellationToken) }, null);
        }

        if (file is not null)
        {
            var (fromFile, asked, problem) = await TensorOptions.ReadFileAsync(file, cancellationToken);
            return (problem is null ? new PredictRequest { Model = "", Inputs = fromFile, Outputs = asked } : null, problem);
        }

        if (given.Length > 0)
        {
            var tensors = new List<InferTensor>(given.Length);
            foreach (var input in given)
            {
                var (tensor, problem) = TensorOptions.ParseInput(input);
                if (problem is not null)
                {
                    return (null, problem);
                }

                tensors.Add(tensor!);
            }

            return (new PredictRequest { Model = "", Inputs = tensors }, null);
        }

        var values = new List<float>();
        foreach (var value in featureText!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                return (null, $"-f: '{value}' is not a number.");
            }

            values.Add(number);
        }

        return (new PredictRequest { Model = "", Features = [.. values] }, null);
    }

    /// <summary>A classifier's answer as its label and scores by label; any other outputs as they are.</summary>
    private static void PrintOutputs(IReadOnlyList<InferTensor> outputs)
    {
        if (outputs.Any(o => o.Name == "label") && outputs.Any(o => o.Name == "labels") && outputs.Any(o => o.Name == "scores"))
        {
            var answer = Classification.FromOutputs(outputs.ToDictionary(o => o.Name, StringComparer.Ordinal));
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                label = answer.Label,
                scores = answer.Labels.Zip(answer.Scores).Select(p => new { label = p.First, score = p.Second }),
            }, Pretty));
            return;
        }

        Console.WriteLine(JsonSerializer.Serialize(outputs, Pretty));
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
            var table = new Table().AddColumns("name", "version", "inputs", "outputs", "recipe", "size", "created");
            foreach (var m in await host.Services.GetRequiredService<IAiaasClient>().ListModelsAsync(ct))
            {
                table.AddRow(new[] { m.Name, m.Version.ToString(CultureInfo.InvariantCulture), Describe(m.Inputs), Describe(m.Outputs), m.Recipe?.Kind ?? "",
                    m.SizeBytes.ToString("N0", CultureInfo.InvariantCulture), m.CreatedAt.ToString("u", CultureInfo.InvariantCulture) }
                    .Select(cell => new Text(cell)));
            }

            AnsiConsole.Write(table);
        });

        var name = new Option<string>("--name", "-n") { Description = "model name", Required = true };
        var file = new Option<FileInfo>("--file") { Description = "ONNX file", Required = true };
        var maxBatch = new Option<int?>("--max-batch-size") { Description = "dynamic batching: largest batch" };
        var maxDelay = new Option<double?>("--max-delay-ms") { Description = "dynamic batching: longest wait of the oldest request" };
        var pad = new Option<string[]>("--pad")
        {
            Description = "pad this input along this dynamic axis to the longest request of a batch, with value (default 0): input:axis[=value]; repeatable",
        };
        var maxShape = new Option<string[]>("--max-shape")
        {
            Description = "largest shape a request may give an input, one size per axis, -1 for no bound: input:-1x256; repeatable",
        };
        var noGroup = new Option<bool>("--no-group-by-length") { Description = "with padding: form batches in arrival order, not by similar length" };
        var responseCache = new Option<bool>("--response-cache")
        {
            Description = "answer a job whose inputs equal a recent job's (same tenant) from the workers' cache, without a model call",
        };
        var background = new Option<FileInfo>("--background")
        {
            Description = "tabular models: a CSV file (header of feature names, rows of raw values, such as a training sample) that explanations average over",
        };
        var register = new Command("register", "Register an ONNX file as the next version of a model, with a recipe for text or images if given")
        {
            name, file, maxBatch, maxDelay, pad, maxShape, noGroup, responseCache, background,
        };
        var recipeOptions = new RecipeOptions();
        recipeOptions.AddTo(register);
        register.SetAction(async (parse, ct) =>
        {
            var (inputs, problem) = InputBatchingSyntax.Parse(parse.GetValue(pad) ?? [], parse.GetValue(maxShape) ?? []);
            var (recipe, vocabulary, recipeProblem) = await recipeOptions.ReadAsync(parse, ct);
            if ((problem ?? recipeProblem) is { } refused)
            {
                await Console.Error.WriteLineAsync(refused);
                return 2;
            }

            using var host = ClientHost(parse, withBroker: false);
            await using var stream = parse.GetValue(file)!.OpenRead();
            await using var vocab = vocabulary?.OpenRead();
            var groupByLength = parse.GetValue(noGroup) ? false : (bool?)null;
            var cache = parse.GetValue(responseCache) ? true : (bool?)null;
            var batching = parse.GetValue(maxBatch) is null && parse.GetValue(maxDelay) is null && inputs is null && groupByLength is null
                && cache is null ? null
                : new BatchingSettings
                {
                    MaxBatchSize = parse.GetValue(maxBatch),
                    MaxQueueDelayMilliseconds = parse.GetValue(maxDelay),
                    Inputs = inputs,
                    GroupByLength = groupByLength,
                    ResponseCache = cache,
                };
            var client = host.Services.GetRequiredService<IAiaasClient>();
            if (recipe is not null && parse.GetValue(background) is not null)
            {
                await Console.Error.WriteLineAsync("--background goes with tabular models, --recipe with text and images: give one of them.");
                return 2;
            }

            await using var backgroundCsv = parse.GetValue(background)?.OpenRead();
            var view = recipe is not null ? await client.RegisterModelAsync(parse.GetValue(name)!, stream, recipe, vocab, batching, null, ct)
                : backgroundCsv is not null ? await client.RegisterModelWithBackgroundAsync(parse.GetValue(name)!, stream, backgroundCsv, batching, null, ct)
                : await client.RegisterModelAsync(parse.GetValue(name)!, stream, batching, null, ct);
            Console.WriteLine(JsonSerializer.Serialize(view, Pretty));
            return 0;
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
        // The CLI's own folder, not the current directory: an appsettings.json where the user stands (a server's, say) must
        // not change what the CLI logs or where it connects.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // The command's own lines are the output: no "Application is shutting down" after them.
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddAiaasClient(o =>
        {
            o.ApiUrl = parse.GetValue(ApiOption)!;
            // Over HTTP the broker is never opened, whatever --rabbitmq says.
            var http = parse.GetValue(HttpOption);
            o.Transport = http ? AiaasTransport.Http : AiaasTransport.Auto;
            o.RabbitMqUri = withBroker && !http ? parse.GetValue(RabbitOption) : null;

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
