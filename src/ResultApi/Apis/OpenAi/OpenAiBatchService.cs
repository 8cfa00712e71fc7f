using System.Globalization;
using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Domain;
using AIaaS.Queue.ResultApi.Retention;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// OpenAI's Batch API for <c>/v1/embeddings</c>, run by the bulk machinery: the uploaded file is translated into records
/// (<see cref="BatchInputTranslator"/>) and scored as a bulk job (chunks, counts, cancel, expiry, webhooks), and the job's
/// results are read back in OpenAI's form (<see cref="BatchResultTranslator"/>). A batch is its bulk job: the batch id is the
/// job's, and what OpenAI's batch object adds is kept in a small manifest file that the job's input file names.
/// </summary>
public sealed class OpenAiBatchService(IBulkStore bulk, IDatasetStore files, IModelStore models, BulkJobSubmitter submitter, StorageQuota quota)
{
    /// <summary>OpenAI's metadata bounds.</summary>
    private const int MaxMetadataPairs = 16, MaxMetadataKey = 64, MaxMetadataValue = 512;

    public async Task<Results<Ok<OpenAiBatch>, JsonHttpResult<OpenAiErrorResponse>>> CreateAsync(
        OpenAiBatchRequest? request, TenantCaller caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (RequestProblem(request, out var window) is { } problem)
        {
            return problem;
        }

        // Before the translated files are stored: a refused batch leaves nothing behind.
        if (await quota.RefusalAsync(caller.TenantId, null, cancellationToken) is { } refusal)
        {
            return OpenAiErrors.Create(StatusCodes.Status413PayloadTooLarge, refusal, code: "storage_quota_exceeded");
        }

        if (!OpenAiIds.TryParseFile(request!.InputFileId, out var datasetId)
            || await files.GetDatasetAsync(caller.TenantId, datasetId, cancellationToken) is not { } input)
        {
            return OpenAiErrors.Create(StatusCodes.Status404NotFound, $"No file with id '{request.InputFileId}' is stored.", "input_file_id");
        }

        var bulkJobId = Guid.CreateVersion7();
        var batchId = OpenAiIds.Batch(bulkJobId);
        await using var copy = TempFile();
        await files.CopyDatasetToAsync(caller.TenantId, input.Id, copy, cancellationToken);
        copy.Position = 0;
        var modelName = await BatchInputTranslator.FindModelAsync(Reader(copy), cancellationToken);
        if (modelName is null)
        {
            return OpenAiErrors.Invalid("No line of the file names a model in its body; each line is {\"custom_id\", \"method\": \"POST\", "
                + "\"url\": \"/v1/embeddings\", \"body\": {\"model\", \"input\"}}.", "input_file_id");
        }

        var (model, error, status) = await EmbeddingModel.FindAsync(modelName, caller, models, cancellationToken);
        if (model is null)
        {
            return TypedResults.Json(error!, statusCode: status);
        }

        copy.Position = 0;
        await using var records = TempFile();
        await using var refusals = TempFile();
        var translator = new BatchInputTranslator(batchId, modelName, model.Dimensions);
        await translator.TranslateAsync(Reader(copy), records, refusals, cancellationToken);
        if (translator.Requests == translator.Refused)
        {
            return OpenAiErrors.Invalid($"None of the file's {translator.Requests} requests can run: "
                + string.Join(" ", translator.FirstRefusals.Select(r => r.Message)), "input_file_id");
        }

        var manifest = new OpenAiBatchManifest
        {
            InputFileId = input.Id,
            Endpoint = BatchInputTranslator.Endpoint,
            CompletionWindow = request.CompletionWindow!,
            Metadata = request.Metadata,
            Model = modelName,
            Requests = translator.Requests,
            Refused = translator.Refused,
            Records = translator.Records,
            ErrorsFileId = translator.Refused > 0 ? (await StoreAsync(caller, OpenAiFileStore.BatchErrorsPurpose, $"{batchId}_refused.jsonl", refusals,
                cancellationToken)).Id : null,
        };
        using var manifestJson = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest));
        var stored = await StoreAsync(caller, OpenAiFileStore.BatchManifestPurpose, $"{batchId}.json", manifestJson, cancellationToken);
        var translated = await StoreAsync(caller, OpenAiFileStore.BatchInputPurpose, stored.Id, records, cancellationToken);
        var submitted = await submitter.SubmitStoredFileAsync(new BulkJobQuery
        {
            Id = bulkJobId,
            Model = modelName,
            Version = model.Version.Version,
            InputFileId = translated.Id,
            Format = BulkInputFormat.JsonLines,
            CompletionWindowSeconds = window.TotalSeconds,
        }, caller, cancellationToken);
        if (submitted.Result is ProblemHttpResult refused)
        {
            return OpenAiErrors.From(refused.ProblemDetails);
        }

        var job = await bulk.GetBulkJobAsync(caller.TenantId, bulkJobId, cancellationToken);
        return job is null
            ? OpenAiErrors.Create(StatusCodes.Status500InternalServerError, $"Batch {batchId} was queued but is not stored.")
            : TypedResults.Ok(await RenderAsync(job, manifest, cancellationToken));
    }

    /// <summary>The caller's batch (any bulk job, by its OpenAI id), or null.</summary>
    public async Task<BulkJobRecord?> FindAsync(string id, TenantCaller caller, CancellationToken cancellationToken) =>
        OpenAiIds.TryParseBatch(id, out var bulkJobId) ? await bulk.GetBulkJobAsync(caller.TenantId, bulkJobId, cancellationToken) : null;

    public async Task<Results<Ok<OpenAiBatch>, JsonHttpResult<OpenAiErrorResponse>>> CancelAsync(string id, TenantCaller caller,
        CancellationToken cancellationToken)
    {
        if (await FindAsync(id, caller, cancellationToken) is not { } before)
        {
            return Unknown(id);
        }

        var job = before.Status is BulkJobStatus.Cancelling or BulkJobStatus.Cancelled ? before
            : await bulk.TransitionBulkJobAsync(before.TenantId, before.BulkJobId, [BulkJobStatus.Validating, BulkJobStatus.Running], BulkJobStatus.Cancelling,
                cancellationToken: cancellationToken) ?? before;
        return job.Status is BulkJobStatus.Cancelling or BulkJobStatus.Cancelled
            ? TypedResults.Ok(await RenderAsync(job, cancellationToken))
            : OpenAiErrors.Create(StatusCodes.Status409Conflict,
                $"Batch {id} is {StatusOf(job.Status)}; only a validating or in_progress batch can be cancelled.");
    }

    /// <summary>The caller's bulk jobs as OpenAI batches, newest first, after the batch <paramref name="after"/> names. The
    /// page is cut from the newest 1000 jobs (the store lists no more at once).</summary>
    public async Task<OpenAiList<OpenAiBatch>> ListAsync(TenantCaller caller, string? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        IEnumerable<BulkJobRecord> jobs = await bulk.ListBulkJobsAsync(caller.TenantId, 1000, cancellationToken);
        if (after is not null)
        {
            jobs = OpenAiIds.TryParseBatch(after, out var afterId) ? jobs.SkipWhile(j => j.BulkJobId != afterId).Skip(1) : [];
        }

        var page = jobs.Take(limit + 1).ToList();
        var data = new List<OpenAiBatch>(Math.Min(page.Count, limit));
        foreach (var job in page.Take(limit))
        {
            data.Add(await RenderAsync(job, cancellationToken));
        }

        return new OpenAiList<OpenAiBatch> { Data = data, FirstId = data.FirstOrDefault()?.Id, LastId = data.LastOrDefault()?.Id, HasMore = page.Count > limit };
    }

    public async Task<OpenAiBatch> RenderAsync(BulkJobRecord job, CancellationToken cancellationToken) =>
        await RenderAsync(job, await ManifestAsync(job, cancellationToken), cancellationToken);

    /// <summary>The manifest of an OpenAI batch; null for a bulk job submitted in this server's own form.</summary>
    public async Task<OpenAiBatchManifest?> ManifestAsync(BulkJobRecord job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        if (await files.GetDatasetAsync(job.TenantId, job.InputFileId, cancellationToken) is not { } input
            || OpenAiFileStore.ReadName(input.Name) is not (OpenAiFileStore.BatchInputPurpose, var manifestId))
        {
            return null;
        }

        using var json = new MemoryStream();
        await files.CopyDatasetToAsync(job.TenantId, manifestId, json, cancellationToken);
        return OpenAiBatchManifest.Parse(json.GetBuffer().AsSpan(0, (int)json.Length));
    }

    /// <summary>Writes a batch's output or error file: for an OpenAI batch translated from the bulk job's lines (the error file
    /// starts with the lines the translation refused), for a bulk job of this server's own form its lines as they are.
    /// Returns the bytes written.</summary>
    public async Task<long> WriteFileAsync(BulkJobRecord job, OpenAiBatchManifest? manifest, BulkResultKind kind, Stream destination,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var counting = new CountingWriteStream(destination);
        if (manifest is null)
        {
            await bulk.CopyBulkResultsToAsync(job.TenantId, job.BulkJobId, kind, counting, cancellationToken);
            return counting.Count;
        }

        var translator = new BatchResultTranslator(OpenAiIds.Batch(job.BulkJobId), manifest.Model);
        if (kind == BulkResultKind.Errors && manifest.ErrorsFileId is { } refused)
        {
            await files.CopyDatasetToAsync(job.TenantId, refused, counting, cancellationToken);
        }

        await OpenAiFileStore.ReadLinesAsync(target => bulk.CopyBulkResultsToAsync(job.TenantId, job.BulkJobId, kind, target, cancellationToken),
            lines => kind == BulkResultKind.Output
                ? translator.TranslateOutputAsync(lines, counting, cancellationToken)
                : translator.TranslateErrorsAsync(lines, counting, cancellationToken));
        await counting.FlushAsync(cancellationToken);
        return counting.Count;
    }

    private async Task<OpenAiBatch> RenderAsync(BulkJobRecord job, OpenAiBatchManifest? manifest, CancellationToken cancellationToken)
    {
        var counts = await CountsAsync(job, manifest, cancellationToken);
        var final = job.IsFinal;
        return new OpenAiBatch
        {
            Id = OpenAiIds.Batch(job.BulkJobId),
            Endpoint = manifest?.Endpoint,
            Model = manifest?.Model ?? Tenants.PlainModelName(job.Model),
            Errors = job.Status == BulkJobStatus.Failed
                ? new OpenAiBatchErrors { Data = [new OpenAiBatchError { Code = "failed", Message = job.Error ?? "The batch failed." }] }
                : null,
            InputFileId = OpenAiIds.File(manifest?.InputFileId ?? job.InputFileId),
            CompletionWindow = manifest?.CompletionWindow,
            Status = StatusOf(job.Status),
            OutputFileId = final && job.Status != BulkJobStatus.Failed ? OpenAiIds.BatchFile(job.BulkJobId, BulkResultKind.Output) : null,
            ErrorFileId = final && counts.Failed > 0 ? OpenAiIds.BatchFile(job.BulkJobId, BulkResultKind.Errors) : null,
            CreatedAt = job.SubmittedAt.ToUnixTimeSeconds(),
            InProgressAt = job.StartedAt?.ToUnixTimeSeconds(),
            ExpiresAt = job.ExpiresAt?.ToUnixTimeSeconds(),
            CompletedAt = At(job, BulkJobStatus.Succeeded),
            FailedAt = At(job, BulkJobStatus.Failed),
            ExpiredAt = At(job, BulkJobStatus.Expired),
            CancelledAt = At(job, BulkJobStatus.Cancelled),
            RequestCounts = counts,
            Metadata = manifest?.Metadata,
        };
    }

    /// <summary>
    /// Requests, not records. When every request has one input (the usual file) the bulk job's counts are the requests'
    /// exactly. With requests of several inputs, failed requests are counted from the error lines (one per request), and
    /// completed ones are exact once the job has succeeded, a lower bound while it runs (records done, less the inputs that
    /// could still be waiting for their siblings). A bulk job of this server's own form counts its records.
    /// </summary>
    private async Task<OpenAiRequestCounts> CountsAsync(BulkJobRecord job, OpenAiBatchManifest? manifest, CancellationToken cancellationToken)
    {
        if (manifest is null)
        {
            return new OpenAiRequestCounts { Total = job.Total, Completed = job.Succeeded, Failed = job.Failed };
        }

        var valid = manifest.Requests - manifest.Refused;
        if (manifest.Records == valid)
        {
            return new OpenAiRequestCounts { Total = manifest.Requests, Completed = job.Succeeded, Failed = manifest.Refused + job.Failed };
        }

        var failed = job.Failed == 0 ? 0 : await OpenAiFileStore.ReadLinesAsync(
            target => bulk.CopyBulkResultsToAsync(job.TenantId, job.BulkJobId, BulkResultKind.Errors, target, cancellationToken),
            lines => new BatchResultTranslator(OpenAiIds.Batch(job.BulkJobId), manifest.Model).TranslateErrorsAsync(lines, Stream.Null, cancellationToken));
        var completed = job.Status == BulkJobStatus.Succeeded ? valid - failed
            : Math.Clamp(job.Succeeded - (manifest.Records - valid), 0, valid - failed);
        return new OpenAiRequestCounts { Total = manifest.Requests, Completed = completed, Failed = manifest.Refused + failed };
    }

    public static string StatusOf(BulkJobStatus status) => status switch
    {
        BulkJobStatus.Validating => "validating",
        BulkJobStatus.Running => "in_progress",
        BulkJobStatus.Finalizing => "finalizing",
        BulkJobStatus.Succeeded => "completed",
        BulkJobStatus.Failed => "failed",
        BulkJobStatus.Cancelling => "cancelling",
        BulkJobStatus.Cancelled => "cancelled",
        BulkJobStatus.Expired => "expired",
        _ => status.ToString().ToLowerInvariant(),
    };

    public static JsonHttpResult<OpenAiErrorResponse> Unknown(string id) =>
        OpenAiErrors.Create(StatusCodes.Status404NotFound, $"No batch with id '{id}' is known.");

    private static long? At(BulkJobRecord job, BulkJobStatus status) => job.Status == status ? job.CompletedAt?.ToUnixTimeSeconds() : null;

    /// <summary>The request's own rules: endpoint, completion window (whole hours, 24h as OpenAI's, up to 30 days), metadata.</summary>
    private static JsonHttpResult<OpenAiErrorResponse>? RequestProblem(OpenAiBatchRequest? request, out TimeSpan window)
    {
        window = default;
        if (request is null)
        {
            return OpenAiErrors.Invalid("The body must be {\"input_file_id\", \"endpoint\", \"completion_window\", \"metadata\"}.");
        }

        if (request.Endpoint != BatchInputTranslator.Endpoint)
        {
            return OpenAiErrors.Invalid($"'endpoint' must be \"{BatchInputTranslator.Endpoint}\": the only endpoint batches run here.", "endpoint");
        }

        if (request.CompletionWindow is not { Length: > 1 } text || text[^1] != 'h'
            || !int.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var hours) || hours is < 1 or > 720)
        {
            return OpenAiErrors.Invalid("'completion_window' must be a whole number of hours, 1h to 720h, such as \"24h\".", "completion_window");
        }

        window = TimeSpan.FromHours(hours);
        if (request.Metadata is { } metadata && (metadata.Count > MaxMetadataPairs
            || metadata.Any(p => p.Key.Length is 0 or > MaxMetadataKey || (p.Value?.Length ?? 0) > MaxMetadataValue)))
        {
            return OpenAiErrors.Invalid($"'metadata' holds at most {MaxMetadataPairs} pairs, keys of 1-{MaxMetadataKey} characters and string values "
                + $"of up to {MaxMetadataValue}.", "metadata");
        }

        return string.IsNullOrEmpty(request.InputFileId) ? OpenAiErrors.Invalid("'input_file_id' is required.", "input_file_id") : null;
    }

    private async Task<DatasetView> StoreAsync(TenantCaller caller, string purpose, string filename, Stream content, CancellationToken cancellationToken)
    {
        content.Position = 0;
        return await files.AddDatasetAsync(caller.TenantId, OpenAiFileStore.DatasetName(purpose, filename), content, cancellationToken);
    }

    private static FileStream TempFile() => new(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16,
        FileOptions.DeleteOnClose | FileOptions.Asynchronous);

    private static StreamReader Reader(Stream stream) => new(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, 1 << 16, leaveOpen: true);

    /// <summary>Passes writes on and counts them.</summary>
    private sealed class CountingWriteStream(Stream inner) : Stream
    {
        public long Count { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Count;
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Count += count;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count += buffer.Length;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Count += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}
