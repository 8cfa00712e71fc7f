using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>
/// The Open Inference Protocol (KServe v2) over HTTP/REST, so that OIP clients and tools work unchanged: health, server and
/// model metadata, model readiness, and infer. An infer request is a predict job like any other: published to the broker,
/// batched with every other caller's requests, then waited for up to a limit (<c>ResultApi:InferWaitSeconds</c>, or less with
/// <c>parameters.timeout_ms</c>). Past the limit the answer is 202 with the job's <c>Location</c>, so a slow queue holds no
/// connection long. Errors are the protocol's <c>{"error": "..."}</c>. A tenant sees and runs only its own models.
/// </summary>
public static class InferenceApi
{
    /// <summary>The platform of every model here (the protocol's name for ONNX Runtime).</summary>
    public const string Platform = "onnxruntime_onnx";

    /// <summary>This server's own extensions, as <c>GET /v2</c> lists them. <c>aiaas_deferred_infer</c>: infer answers 202 with
    /// Location past its wait limit, and reads <c>parameters.timeout_ms</c> and <c>parameters.job_id</c>.
    /// <c>aiaas_batching_metadata</c>: model metadata carries the model's batching in <c>parameters</c>.
    /// <c>aiaas_recipe_metadata</c>: model metadata of a version registered with a recipe carries it in <c>parameters.recipe</c>,
    /// and the outputs its text and image jobs answer with in <c>parameters.recipe_outputs</c>.</summary>
    public static readonly IReadOnlyList<string> Extensions = ["aiaas_deferred_infer", "aiaas_batching_metadata", "aiaas_recipe_metadata"];

    /// <summary>A recipe as registered: the settings left to their defaults are left out.</summary>
    private static readonly JsonSerializerOptions RecipeJson = new(WireJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private static readonly string ServerVersion = typeof(InferenceApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()
        ?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static IEndpointRouteBuilder MapInferenceApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v2").WithTags("Open Inference Protocol");
        api.MapGet("", GetServerMetadata).WithName("OipServerMetadata").WithSummary("The server's name, version and protocol extensions.");

        // Probes, open like /health: they say nothing about any tenant.
        api.MapGet("/health/live", () => TypedResults.Ok(new ServerLiveResponse(true))).AllowAnonymous()
            .WithName("OipServerLive").WithSummary("Whether the server answers.");
        api.MapGet("/health/ready", GetServerReady).AllowAnonymous()
            .WithName("OipServerReady").WithSummary("Whether the server is ready: its readiness checks (the store answers) pass; 503 when not.");

        // The version is a route value or absent (the latest), never a query parameter: hence a handler per route.
        api.MapGet("/models/{name}", (string name, TenantCaller caller, IModelStore models, CancellationToken ct) =>
                GetModelMetadata(name, null, caller, models, ct))
            .WithName("OipModelMetadata")
            .WithSummary("The model's latest version: inputs and outputs with datatype and shape (-1 dynamic), its versions, its batching.");
        api.MapGet("/models/{name}/versions/{version}", GetModelMetadata).WithName("OipModelVersionMetadata")
            .WithSummary("One version's inputs and outputs with datatype and shape (-1 dynamic), and its batching.");
        api.MapGet("/models/{name}/ready", (string name, TenantCaller caller, IModelStore models, CancellationToken ct) =>
                GetModelReady(name, null, caller, models, ct))
            .WithName("OipModelReady").WithSummary("Whether the model is registered and takes requests.");
        api.MapGet("/models/{name}/versions/{version}/ready", GetModelReady).WithName("OipModelVersionReady")
            .WithSummary("Whether the version is registered and takes requests.");
        api.MapPost("/models/{name}/infer", (string name, HttpRequest http, [AsParameters] InferenceServices services, CancellationToken ct) =>
                Infer(name, null, http, services, ct))
            .WithName("OipInfer")
            .WithSummary("Runs the request as a predict job on the latest version and answers its outputs; 202 with Location past the wait limit.");
        api.MapPost("/models/{name}/versions/{version}/infer", Infer).WithName("OipInferVersion")
            .WithSummary("Runs the request as a predict job on one version and answers its outputs; 202 with Location past the wait limit.");
        return app;
    }

    public static Ok<ServerMetadataResponse> GetServerMetadata() =>
        TypedResults.Ok(new ServerMetadataResponse { Name = "aiaas-queue", Version = ServerVersion, Extensions = Extensions });

    public static async Task<JsonHttpResult<ServerReadyResponse>> GetServerReady(HealthCheckService health, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(check => check.Tags.Contains("ready"), cancellationToken);
        var ready = report.Status == HealthStatus.Healthy;
        return TypedResults.Json(new ServerReadyResponse(ready), statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    public static async Task<Results<Ok<ModelMetadataResponse>, JsonHttpResult<InferenceError>>> GetModelMetadata(
        string name, string? version, TenantCaller caller, IModelStore models, CancellationToken cancellationToken)
    {
        var versions = Tenants.IsValidModelName(name) ? await models.ListAsync(Tenants.QualifyModel(caller.TenantId, name), cancellationToken) : [];
        var record = version is null ? versions.MaxBy(v => v.Version) : versions.FirstOrDefault(v => v.Version.ToString(CultureInfo.InvariantCulture) == version);
        if (record is null)
        {
            return UnknownModel(name, version);
        }

        return TypedResults.Ok(new ModelMetadataResponse
        {
            Name = name,
            Versions = [.. versions.Select(v => v.Version.ToString(CultureInfo.InvariantCulture))],
            Platform = Platform,
            Inputs = [.. record.Inputs.Select(Describe)],
            Outputs = [.. record.Outputs.Select(Describe)],
            Parameters = Parameters(record),
        });
    }

    public static async Task<Results<Ok<ModelReadyResponse>, JsonHttpResult<InferenceError>>> GetModelReady(
        string name, string? version, TenantCaller caller, IModelStore models, CancellationToken cancellationToken) =>
        await FindVersionAsync(name, version, caller, models, cancellationToken) is null
            ? UnknownModel(name, version)
            // Registered is ready: the version is in the store for any worker to load, and its jobs queue until one runs them.
            : TypedResults.Ok(new ModelReadyResponse(name, true));

    public static async Task<Results<Ok<InferenceResponse>, Accepted<JobView>, JsonHttpResult<InferenceError>>> Infer(
        string name, string? version, HttpRequest http, [AsParameters] InferenceServices services, CancellationToken cancellationToken)
    {
        if (http.Headers.ContainsKey("Inference-Header-Content-Length"))
        {
            return Error(StatusCodes.Status400BadRequest, "The binary tensor data extension is not supported; send the whole request as JSON.");
        }

        if (!Tenants.IsValidModelName(name) || (version is not null && ParseVersion(version) is null))
        {
            return UnknownModel(name, version);
        }

        InferenceRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<InferenceRequest>(http.Body, WireJson.Options, cancellationToken);
        }
        catch (JsonException ex)
        {
            return Error(StatusCodes.Status400BadRequest, $"The body is not an inference request in JSON: {ex.Message}");
        }

        var (inputs, outputs, wait, jobId, problem) = ReadRequest(request);
        if (problem is not null)
        {
            return Error(StatusCodes.Status400BadRequest, problem);
        }

        var options = services.Options.Value;
        var limit = TimeSpan.FromSeconds(Math.Min(wait?.TotalSeconds ?? options.InferWaitSeconds, options.InferWaitSeconds));
        var submission = await services.Submitter.SubmitPredictAsync(new SubmitPredictJob
        {
            JobId = jobId ?? Guid.CreateVersion7(),
            Model = name,
            ModelVersion = version is null ? null : ParseVersion(version),
            Inputs = inputs,
            Outputs = outputs,
            SubmittedAt = services.Time.GetUtcNow(),
        }, services.Caller, cancellationToken);
        if (submission.Refusal is { } refusal)
        {
            refusal.ApplyHeaders(http.HttpContext.Response);
            return Error(refusal.Status, refusal.Detail);
        }

        // Ids are per tenant: the job is the caller's own, new or (a repeat of its id) one it submitted before, which may be
        // of another model or kind.
        var job = submission.Job!;
        if (job.Kind != JobKind.Predict || job.Model != Tenants.QualifyModel(services.Caller.TenantId, name))
        {
            return Error(StatusCodes.Status409Conflict, $"job_id {job.JobId} is in use by another of your jobs; choose another.");
        }

        var final = job.IsFinal ? job
            : limit > TimeSpan.Zero ? await services.Waiter.WaitAsync(job.TenantId, job.JobId, limit, cancellationToken) : null;
        if (final is null)
        {
            // Past the wait: the job goes on, and its state is where the Location says.
            var current = await services.Jobs.GetAsync(job.TenantId, job.JobId, cancellationToken) ?? job;
            return TypedResults.Accepted($"/v1/jobs/{job.JobId}", current.ToView());
        }

        if (final.Status != JobStatus.Succeeded || final.Outputs is null)
        {
            return Error(StatusCodes.Status400BadRequest, final.Error ?? $"The job ended {final.Status.ToString().ToLowerInvariant()}.");
        }

        return TypedResults.Ok(new InferenceResponse
        {
            ModelName = name,
            ModelVersion = final.ModelVersion?.ToString(CultureInfo.InvariantCulture),
            Id = request!.Id ?? final.JobId.ToString(),
            Parameters = new Dictionary<string, object>
            {
                ["job_id"] = final.JobId.ToString(), ["batch_size"] = final.BatchSize ?? 1, ["cached"] = final.Cached,
            },
            Outputs = final.Outputs,
        });
    }

    /// <summary>The request's tensors and requested outputs as a job takes them, and its parameters; or why it is not a
    /// request this server can run. The tensors themselves are checked against the model by the worker.</summary>
    private static (IReadOnlyList<InferTensor>? Inputs, IReadOnlyList<RequestedOutput>? Outputs, TimeSpan? Wait, Guid? JobId, string? Problem) ReadRequest(
        InferenceRequest? request)
    {
        if (request?.Inputs is not { Count: > 0 } inputs)
        {
            return (null, null, null, null, "The request has no inputs: give 'inputs': [{\"name\", \"datatype\", \"shape\", \"data\"}].");
        }

        var tensors = new List<InferTensor>(inputs.Count);
        foreach (var input in inputs)
        {
            if (input is null || string.IsNullOrEmpty(input.Name) || string.IsNullOrEmpty(input.Datatype) || input.Shape is null
                || input.Data.ValueKind == JsonValueKind.Undefined)
            {
                return (null, null, null, null, $"Input '{input?.Name}' needs name, datatype, shape and data.");
            }

            if (input.Parameters?.ContainsKey("binary_data_size") == true)
            {
                return (null, null, null, null, $"Input '{input.Name}' uses the binary tensor data extension, which is not supported; send its data as JSON.");
            }

            tensors.Add(new InferTensor { Name = input.Name, Datatype = input.Datatype, Shape = input.Shape, Data = input.Data });
        }

        List<RequestedOutput>? outputs = null;
        foreach (var output in request.Outputs ?? [])
        {
            if (string.IsNullOrEmpty(output?.Name))
            {
                return (null, null, null, null, "Each requested output needs a name.");
            }

            (outputs ??= []).Add(new RequestedOutput { Name = output.Name });
        }

        TimeSpan? wait = null;
        if (request.Parameters?.GetValueOrDefault("timeout_ms") is { ValueKind: not JsonValueKind.Undefined } timeout)
        {
            if (timeout.ValueKind != JsonValueKind.Number || !timeout.TryGetDouble(out var ms) || ms < 0 || !double.IsFinite(ms))
            {
                return (null, null, null, null, "parameters.timeout_ms, when given, is a number of milliseconds, 0 or more.");
            }

            wait = TimeSpan.FromMilliseconds(Math.Min(ms, TimeSpan.MaxValue.TotalMilliseconds / 2));
        }

        Guid? jobId = null;
        if (request.Parameters?.GetValueOrDefault("job_id") is { ValueKind: not JsonValueKind.Undefined } id)
        {
            if (id.ValueKind != JsonValueKind.String || !Guid.TryParse(id.GetString(), out var parsed) || parsed == Guid.Empty)
            {
                return (null, null, null, null, "parameters.job_id, when given, is a GUID (the job's id and idempotency key).");
            }

            jobId = parsed;
        }

        return (tensors, outputs, wait, jobId, null);
    }

    /// <summary>The model's batching (<see cref="BatchingParameters"/>) and, where it has one, its recipe and the outputs its
    /// recipe answers text and image jobs with.</summary>
    private static Dictionary<string, object> Parameters(ModelVersionRecord record)
    {
        var parameters = BatchingParameters(record);
        if (record.Recipe is { } recipe)
        {
            parameters["recipe"] = JsonSerializer.SerializeToElement(recipe, RecipeJson);
            parameters["recipe_outputs"] = RecipeOutputs(recipe, record.Outputs);
        }

        return parameters;
    }

    /// <summary>The outputs of a job with text or an image, per record, as <see cref="RecipeKinds"/> documents them; -1 where the
    /// size is not known before the job runs.</summary>
    private static MetadataTensor[] RecipeOutputs(ModelRecipe recipe, IReadOnlyList<TensorSpec> outputs)
    {
        static MetadataTensor Tensor(string name, string datatype, long size) => new() { Name = name, Datatype = datatype, Shape = [size] };
        MetadataTensor[] text = [Tensor("tokens", TensorDatatypes.Int64, 1), Tensor("truncated", TensorDatatypes.Bool, 1)];
        if (recipe.Kind == RecipeKinds.TextEmbedding)
        {
            var dimensions = RecipeRules.OutputOf(recipe, outputs) is { Shape.Count: > 0 } hidden && hidden.Shape[^1] >= 0 ? hidden.Shape[^1] : -1L;
            return [Tensor("embedding", TensorDatatypes.Fp32, dimensions), .. text];
        }

        var labels = recipe.Labels?.Count ?? -1;
        var top = recipe.TopK ?? (recipe.Kind == RecipeKinds.ImageClassification ? 5 : labels);
        var k = labels < 0 ? -1L : Math.Min(top, labels);
        MetadataTensor[] classification =
            [Tensor("label", TensorDatatypes.Bytes, 1), Tensor("labels", TensorDatatypes.Bytes, k), Tensor("scores", TensorDatatypes.Fp32, k)];
        return recipe.Kind == RecipeKinds.TextClassification ? [.. classification, .. text] : classification;
    }

    /// <summary>How the model is batched, in the protocol's flat parameter form: <c>batch_mode</c> (Dynamic, FixedOne, None),
    /// <c>max_batch_size</c> and <c>max_queue_delay_ms</c> where registered (else the workers' defaults apply), and the
    /// padding: <c>padded_inputs</c> and <c>max_shape</c> in the registration's syntax, and <c>group_by_length</c>; and
    /// <c>response_cache</c> (true when registered with it, as Triton's <c>response_cache.enable</c>).</summary>
    private static Dictionary<string, object> BatchingParameters(ModelVersionRecord record)
    {
        var mode = OnnxTypes.BatchModeOf(record.Inputs);
        var batching = record.Batching;
        var parameters = new Dictionary<string, object>(StringComparer.Ordinal) { ["batch_mode"] = mode.ToString() };
        if (mode != BatchMode.Dynamic)
        {
            parameters["max_batch_size"] = 1;
        }
        else if (batching?.MaxBatchSize is { } size)
        {
            parameters["max_batch_size"] = size;
        }

        if (batching?.MaxQueueDelayMilliseconds is { } delay)
        {
            parameters["max_queue_delay_ms"] = delay;
        }

        if (InputBatchingSyntax.FormatPad(batching?.Inputs) is { } pad)
        {
            parameters["padded_inputs"] = pad;
            parameters["group_by_length"] = batching?.GroupByLength ?? true;
        }

        if (InputBatchingSyntax.FormatMaxShape(batching?.Inputs) is { } maxShape)
        {
            parameters["max_shape"] = maxShape;
        }

        parameters["response_cache"] = batching?.ResponseCache ?? false;
        return parameters;
    }

    private static MetadataTensor Describe(TensorSpec spec) => new()
    {
        Name = spec.Name,
        Datatype = spec.Datatype ?? DatatypeOf(spec.ElementType),
        Shape = [.. spec.Shape.Select(d => d < 0 ? -1L : d)],
    };

    /// <summary>The protocol's datatype for a numpy-style element type, for versions registered before datatypes were
    /// recorded; the numpy name, upper-cased, for a type the protocol has no name for.</summary>
    private static string DatatypeOf(string elementType) =>
        Enum.GetValues<TensorElementType>().Where(t => OnnxTypes.NumpyName(t) == elementType).Select(OnnxTypes.Datatype).FirstOrDefault(d => d is not null)
        ?? elementType.ToUpperInvariant();

    private static async Task<ModelVersionRecord?> FindVersionAsync(string name, string? version, TenantCaller caller, IModelStore models,
        CancellationToken cancellationToken) =>
        !Tenants.IsValidModelName(name) || (version is not null && ParseVersion(version) is null)
            ? null
            : await models.GetVersionAsync(Tenants.QualifyModel(caller.TenantId, name), version is null ? null : ParseVersion(version), cancellationToken);

    private static int? ParseVersion(string version) =>
        int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= 1 ? number : null;

    private static JsonHttpResult<InferenceError> UnknownModel(string name, string? version) =>
        Error(StatusCodes.Status404NotFound, $"No model '{name}'{(version is null ? "" : $" version {version}")} is registered.");

    private static JsonHttpResult<InferenceError> Error(int status, string message) => TypedResults.Json(new InferenceError(message), statusCode: status);
}

/// <summary>What <see cref="InferenceApi.Infer"/> works with.</summary>
public sealed record InferenceServices(TenantCaller Caller, IJobStore Jobs, JobSubmitter Submitter, JobCompletionWaiter Waiter,
    IOptions<ResultApiOptions> Options, TimeProvider Time);
