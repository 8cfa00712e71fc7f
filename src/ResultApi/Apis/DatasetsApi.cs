using AIaaS.Queue.Contracts;
using AIaaS.Queue.ResultApi.Retention;
using AIaaS.Queue.ResultApi.Security;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.ResultApi.Apis;

/// <summary>Data files for train jobs: uploaded once, referenced by id from <see cref="TrainingDataset.FileId"/>.</summary>
public static class DatasetsApi
{
    public static IEndpointRouteBuilder MapDatasetsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/datasets").WithTags("Datasets");
        api.MapPost("/", UploadDataset).WithName("UploadDataset")
            .WithSummary("Stores a CSV (header line) or JSON-lines file for training; the body is the file, ?name= names it.");
        api.MapGet("/{id}", GetDataset).WithName("GetDataset").WithSummary("An uploaded data file's size and hash.");
        return app;
    }

    public static async Task<Results<Created<DatasetView>, ProblemHttpResult>> UploadDataset(
        HttpRequest request, TenantCaller caller, IDatasetStore datasets, StorageQuota quota, IOptions<ResultApiOptions> options,
        CancellationToken cancellationToken, string? name = null)
    {
        if (request.ContentLength == 0)
        {
            return Problems.Create(StatusCodes.Status400BadRequest, "Invalid dataset", "The request body (the file) is empty.");
        }

        if (await quota.RefusalAsync(caller.TenantId, request.ContentLength, cancellationToken) is { } refusal)
        {
            return Problems.QuotaExceeded(refusal);
        }

        var limit = options.Value.MaxDatasetBytes;
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = limit;
        }

        try
        {
            var dataset = await datasets.AddDatasetAsync(caller.TenantId, string.IsNullOrWhiteSpace(name) ? "dataset" : name, request.Body, cancellationToken);
            return TypedResults.Created($"/v1/datasets/{dataset.Id}", dataset);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problems.Create(StatusCodes.Status413PayloadTooLarge, "Dataset too large", $"The data file is larger than the {limit} bytes allowed.");
        }
    }

    public static async Task<Results<Ok<DatasetView>, ProblemHttpResult>> GetDataset(
        string id, TenantCaller caller, IDatasetStore datasets, CancellationToken cancellationToken) =>
        await datasets.GetDatasetAsync(caller.TenantId, id, cancellationToken) switch
        {
            null => Problems.Create(StatusCodes.Status404NotFound, "Unknown dataset", $"No dataset with id '{id}' is stored."),
            { ExpiredAt: { } expiredAt } => Problems.Gone("The dataset has expired",
                $"The content of dataset '{id}' was removed under the tenant's retention at {expiredAt:O}.", expiredAt),
            var dataset => TypedResults.Ok(dataset),
        };
}
