using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis;

public static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/models").WithTags("Models");
        api.MapGet("/", ListModels).WithName("ListModels").WithSummary("Every registered model version, by name then version.");
        api.MapGet("/{name}", ListVersions).WithName("ListModelVersions").WithSummary("The versions of one model.");
        api.MapGet("/{name}/versions/{version}", GetVersion).WithName("GetModelVersion").WithSummary("One version, or 'latest'.");
        api.MapGet("/{name}/versions/{version}/file", DownloadFile).WithName("DownloadModelFile")
            .WithSummary("The version's ONNX file as registered, with its SHA-256 as the ETag (If-None-Match answers 304).");
        api.MapPut("/{name}", RegisterVersion).WithName("RegisterModelVersion")
            .WithSummary("Registers the ONNX file in the body (application/octet-stream) as the model's next version, or, as multipart/form-data, "
                + "the file in the part 'model' with a recipe (part 'recipe', JSON), vocab.txt (part 'vocab') and labels.txt (part 'labels'); "
                + "the query may set maxBatchSize, maxQueueDelayMs, padding (pad=input:axis[=value]), maximum shapes (maxShape=input:-1x256), groupByLength and responseCache.");
        return app;
    }

    /// <remarks>Filtered in memory: the registry holds versions, not jobs, so it stays small enough to read whole.</remarks>
    public static async Task<Ok<IReadOnlyList<ModelView>>> ListModels(TenantCaller caller, IModelStore models, CancellationToken cancellationToken) =>
        TypedResults.Ok<IReadOnlyList<ModelView>>((await models.ListAsync(null, cancellationToken))
            .Where(v => Tenants.ModelNameFor(caller.TenantId, v.Name) is not null)
            .Select(ToView)
            .ToArray());

    public static async Task<Results<Ok<IReadOnlyList<ModelView>>, ProblemHttpResult>> ListVersions(
        string name, TenantCaller caller, IModelStore models, CancellationToken cancellationToken)
    {
        var versions = Tenants.IsValidModelName(name) ? await models.ListAsync(Tenants.QualifyModel(caller.TenantId, name), cancellationToken) : [];
        return versions.Count == 0 ? UnknownModel(name) : TypedResults.Ok<IReadOnlyList<ModelView>>(versions.Select(ToView).ToArray());
    }

    public static async Task<Results<Ok<ModelView>, ProblemHttpResult>> GetVersion(
        string name, string version, TenantCaller caller, IModelStore models, CancellationToken cancellationToken)
    {
        int? number = version == "latest" ? null : int.TryParse(version, out var parsed) ? parsed : -1;
        var record = number == -1 || !Tenants.IsValidModelName(name)
            ? null
            : await models.GetVersionAsync(Tenants.QualifyModel(caller.TenantId, name), number, cancellationToken);
        return record is null ? UnknownModel($"{name}:{version}") : TypedResults.Ok(ToView(record));
    }

    /// <summary>The ONNX file of a version (or 'latest'), streamed from the store. Its ETag is the file's SHA-256, which
    /// never changes for a version, so a client that has the file sends it back in If-None-Match and gets 304.</summary>
    public static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> DownloadFile(
        string name, string version, TenantCaller caller, IModelStore models, CancellationToken cancellationToken)
    {
        int? number = version == "latest" ? null : int.TryParse(version, out var parsed) ? parsed : -1;
        var record = number == -1 || !Tenants.IsValidModelName(name)
            ? null
            : await models.GetVersionAsync(Tenants.QualifyModel(caller.TenantId, name), number, cancellationToken);
        if (record is null)
        {
            return UnknownModel($"{name}:{version}");
        }

        return TypedResults.Stream(
            destination => models.CopyFileToAsync(record.Name, record.Version, destination, cancellationToken),
            "application/octet-stream",
            $"{name}-v{record.Version}.onnx",
            record.CreatedAt,
            new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{record.Sha256}\""));
    }

    /// <summary>Registers a version. Batching comes from the query: <c>maxBatchSize</c>, <c>maxQueueDelayMs</c>, <c>pad</c> and
    /// <c>maxShape</c> in <see cref="InputBatchingSyntax"/>'s form (repeatable), <c>groupByLength</c> and <c>responseCache</c>; the file, and with
    /// multipart/form-data a recipe, vocabulary and labels, from the body (<see cref="ModelUpload"/>). All are checked against
    /// the file's signature (<see cref="ModelRegistrationRules"/>, <see cref="RecipeRules"/>) before anything is stored.</summary>
    public static async Task<Results<Created<ModelView>, ProblemHttpResult>> RegisterVersion(
        string name, TenantCaller caller, HttpRequest request, IModelStore models, IOptions<ResultApiOptions> options,
        ILoggerFactory loggers, CancellationToken cancellationToken, int? maxBatchSize = null, double? maxQueueDelayMs = null, string? description = null,
        [FromQuery] string[]? pad = null, [FromQuery] string[]? maxShape = null, bool? groupByLength = null,
        bool? responseCache = null)
    {
        if (SubmissionRules.ModelNameProblem(name) is { } problem)
        {
            return Invalid(problem);
        }

        // Written so that NaN fails it too: NaN compares false with everything, so "< 0 or > 60000" let it through.
        if (maxBatchSize is < 1 or > 4096 || maxQueueDelayMs is { } delay && !(delay >= 0 && delay <= 60_000))
        {
            return Invalid("maxBatchSize must be 1-4096 and maxQueueDelayMs 0-60000.");
        }

        var (inputs, syntaxProblem) = InputBatchingSyntax.Parse(pad ?? [], maxShape ?? []);
        if (syntaxProblem is not null)
        {
            return Invalid(syntaxProblem);
        }

        var batching = maxBatchSize is null && maxQueueDelayMs is null && inputs is null && groupByLength is null && responseCache is null
            ? null
            : new BatchingSettings
            {
                MaxBatchSize = maxBatchSize, MaxQueueDelayMilliseconds = maxQueueDelayMs, Inputs = inputs, GroupByLength = groupByLength,
                ResponseCache = responseCache,
            };

        var limit = options.Value.MaxModelBytes;
        try
        {
            var (upload, uploadProblem) = await ModelUpload.ReadAsync(request, options.Value, cancellationToken);
            if (uploadProblem is not null)
            {
                return uploadProblem;
            }

            using (upload)
            {
                return await RegisterAsync(name, upload!, batching, description, caller, models, options.Value, loggers, cancellationToken);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problems.Create(StatusCodes.Status413PayloadTooLarge, "Model too large", $"The model file is larger than the {limit} bytes allowed.");
        }
    }

    /// <summary>Checks the spooled file, its batching and its recipe against its signature, then stores it.</summary>
    private static async Task<Results<Created<ModelView>, ProblemHttpResult>> RegisterAsync(string name, ModelUpload upload, BatchingSettings? batching,
        string? description, TenantCaller caller, IModelStore models, ResultApiOptions options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        ModelSignature signature;
        try
        {
            signature = OnnxModelInspector.Inspect(upload.Path, options.MaxFoldedConstantBytes);
        }
        catch (InvalidModelException ex)
        {
            // The message names no server path; ONNX Runtime's own, kept in the log, may.
            loggers.CreateLogger(typeof(ModelsApi)).LogInformation(ex.InnerException, "Model upload {Name} refused: {Reason}", name, ex.Message);
            return Invalid(ex.Message);
        }

        if (ServingRules.FindProblem(signature.Inputs, signature.Outputs) is { } servingProblem)
        {
            return Invalid($"The model cannot be served: {servingProblem}");
        }

        if ((ModelRegistrationRules.InputSizeProblem(signature, options.MaxInputValues)
            ?? ModelRegistrationRules.BatchingProblem(signature, batching)) is { } batchingProblem)
        {
            return Invalid(batchingProblem);
        }

        if (upload.Recipe is { } recipe && RecipeRules.Problem(recipe, signature, upload.Vocabulary, batching, upload.LabelsSource) is { } recipeProblem)
        {
            return Invalid($"The recipe does not fit the model: {recipeProblem}");
        }

        if (upload.Background is { } background && ModelRegistrationRules.BackgroundProblem(signature, background) is { } backgroundProblem)
        {
            return Invalid(backgroundProblem);
        }

        await using var content = File.OpenRead(upload.Path);
        var record = await models.AddVersionAsync(new NewModelVersion
        {
            Name = Tenants.QualifyModel(caller.TenantId, name),
            Inputs = signature.Inputs,
            Outputs = signature.Outputs,
            Description = description,
            Batching = batching,
            Recipe = upload.Recipe,
            Vocabulary = upload.Recipe is null ? null : upload.Vocabulary,
            Background = upload.Background,
        }, content, cancellationToken);
        return TypedResults.Created($"/v1/models/{name}/versions/{record.Version}", ToView(record));
    }

    /// <summary>The view a tenant sees of its own model: the name without the tenant's qualifier.</summary>
    internal static ModelView ToView(ModelVersionRecord record) => new()
    {
        Name = Tenants.PlainModelName(record.Name),
        Version = record.Version,
        CreatedAt = record.CreatedAt,
        SizeBytes = record.SizeBytes,
        Sha256 = record.Sha256,
        Inputs = record.Inputs,
        Outputs = record.Outputs,
        Batching = record.Batching,
        BatchMode = OnnxTypes.BatchModeOf(record.Inputs),
        Description = record.Description,
        Recipe = record.Recipe,
        HasVocabulary = record.HasVocabulary,
        Training = record.Training,
        BackgroundFeatures = record.Background?.Features,
        BackgroundRows = record.Background?.Rows.Count ?? 0,
    };

    private static ProblemHttpResult UnknownModel(string name) => Problems.Create(StatusCodes.Status404NotFound, "Unknown model", $"No model '{name}' is registered.");

    private static ProblemHttpResult Invalid(string detail) => Problems.Create(StatusCodes.Status400BadRequest, "Invalid model", detail);
}
