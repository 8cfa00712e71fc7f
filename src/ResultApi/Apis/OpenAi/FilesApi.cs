using AIaaS.Queue.ResultApi.Retention;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// OpenAI's files endpoints, for the Batch API: upload a batch input file, read a file's object and its content. Uploads are
/// data files like those of <c>/v1/datasets</c>; a batch's output and error files are made from its results when read.
/// </summary>
public static class FilesApi
{
    public static IEndpointRouteBuilder MapOpenAiFilesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/files").WithTags("OpenAI").WithMetadata(OpenAiSurfaceMetadata.Instance);
        // Multipart from API clients that authenticate with a key, never a browser's cookie: no antiforgery token to check.
        api.MapPost("/", UploadFile).DisableAntiforgery().WithName("OpenAiUploadFile")
            .WithSummary("Stores a file for the Batch API: multipart form with 'file' and purpose=batch (up to ResultApi:MaxBulkFileBytes).");
        api.MapGet("/{id}", GetFile).WithName("OpenAiGetFile").WithSummary("A file's object: id, bytes, created_at, filename, purpose, status.");
        api.MapGet("/{id}/content", GetFileContent).WithName("OpenAiGetFileContent")
            .WithSummary("A file's content; a batch's output and error files in OpenAI's batch line form.");
        return app;
    }

    public static async Task<Results<Ok<OpenAiFile>, JsonHttpResult<OpenAiErrorResponse>>> UploadFile(
        HttpRequest request, TenantCaller caller, IDatasetStore files, StorageQuota quota, IOptions<ResultApiOptions> options,
        CancellationToken cancellationToken)
    {
        if (await quota.RefusalAsync(caller.TenantId, request.ContentLength, cancellationToken) is { } refusal)
        {
            return OpenAiErrors.Create(StatusCodes.Status413PayloadTooLarge, refusal, code: "storage_quota_exceeded");
        }

        var limit = options.Value.MaxBulkFileBytes;
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = limit;
        }

        if (!request.HasFormContentType)
        {
            return OpenAiErrors.Invalid("Send the file as multipart/form-data with the fields 'file' and 'purpose'.");
        }

        IFormCollection form;
        try
        {
            // Files above 64 KB are buffered to disk by the form reader, not held in memory.
            request.HttpContext.Features.Set<IFormFeature>(new FormFeature(request, new FormOptions { MultipartBodyLengthLimit = limit }));
            form = await request.ReadFormAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException)
        {
            return OpenAiErrors.Create(ex is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } ? StatusCodes.Status413PayloadTooLarge
                : StatusCodes.Status400BadRequest, $"The form could not be read: {ex.Message} (at most {limit} bytes, ResultApi:MaxBulkFileBytes).");
        }

        if (form["purpose"].ToString() != OpenAiFileStore.BatchPurpose)
        {
            return OpenAiErrors.Invalid($"'purpose' must be '{OpenAiFileStore.BatchPurpose}': files here feed the Batch API.", "purpose");
        }

        if (form.Files.GetFile("file") is not { Length: > 0 } file)
        {
            return OpenAiErrors.Invalid("'file' is missing or empty.", "file");
        }

        await using var content = file.OpenReadStream();
        var name = string.IsNullOrWhiteSpace(file.FileName) ? "batch.jsonl" : Path.GetFileName(file.FileName);
        var stored = await files.AddDatasetAsync(caller.TenantId, OpenAiFileStore.DatasetName(OpenAiFileStore.BatchPurpose, name), content, cancellationToken);
        return TypedResults.Ok(stored.ToOpenAi());
    }

    public static async Task<Results<Ok<OpenAiFile>, JsonHttpResult<OpenAiErrorResponse>>> GetFile(
        string id, TenantCaller caller, IDatasetStore files, OpenAiBatchService batches, CancellationToken cancellationToken)
    {
        if (OpenAiIds.TryParseBatchFile(id, out var bulkJobId, out var kind))
        {
            if (await batches.FindAsync(OpenAiIds.Batch(bulkJobId), caller, cancellationToken) is not { } job)
            {
                return Unknown(id);
            }

            // The file is made when read: its size is that of a reading now.
            var bytes = await batches.WriteFileAsync(job, await batches.ManifestAsync(job, cancellationToken), kind, Stream.Null, cancellationToken);
            return TypedResults.Ok(new OpenAiFile
            {
                Id = id,
                Bytes = bytes,
                CreatedAt = (job.CompletedAt ?? job.SubmittedAt).ToUnixTimeSeconds(),
                Filename = $"{OpenAiIds.Batch(bulkJobId)}_{(kind == BulkResultKind.Output ? "output" : "errors")}.jsonl",
                Purpose = OpenAiFileStore.BatchOutputPurpose,
            });
        }

        return OpenAiIds.TryParseFile(id, out var datasetId) && await files.GetDatasetAsync(caller.TenantId, datasetId, cancellationToken) is { } dataset
            ? TypedResults.Ok(dataset.ToOpenAi())
            : Unknown(id);
    }

    public static async Task<Results<PushStreamHttpResult, JsonHttpResult<OpenAiErrorResponse>>> GetFileContent(string id, TenantCaller caller, IDatasetStore files, OpenAiBatchService batches,
        CancellationToken cancellationToken)
    {
        if (OpenAiIds.TryParseBatchFile(id, out var bulkJobId, out var kind))
        {
            if (await batches.FindAsync(OpenAiIds.Batch(bulkJobId), caller, cancellationToken) is not { } job)
            {
                return Unknown(id);
            }

            var manifest = await batches.ManifestAsync(job, cancellationToken);
            return TypedResults.Stream(body => batches.WriteFileAsync(job, manifest, kind, body, cancellationToken), "application/jsonl");
        }

        if (!OpenAiIds.TryParseFile(id, out var datasetId) || await files.GetDatasetAsync(caller.TenantId, datasetId, cancellationToken) is not { } dataset)
        {
            return Unknown(id);
        }

        return TypedResults.Stream(body => files.CopyDatasetToAsync(caller.TenantId, dataset.Id, body, cancellationToken), "application/octet-stream");
    }

    private static JsonHttpResult<OpenAiErrorResponse> Unknown(string id) =>
        OpenAiErrors.Create(StatusCodes.Status404NotFound, $"No file with id '{id}' is known.", "file_id");
}
