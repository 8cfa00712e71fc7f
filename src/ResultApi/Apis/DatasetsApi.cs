using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using Microsoft.AspNetCore.Http.HttpResults;

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
        HttpRequest request, ITrainingStore training, CancellationToken cancellationToken, string? name = null)
    {
        if (request.ContentLength == 0)
        {
            return Problems.Create(StatusCodes.Status400BadRequest, "Invalid dataset", "The request body (the file) is empty.");
        }

        var dataset = await training.AddDatasetAsync(string.IsNullOrWhiteSpace(name) ? "dataset" : name, request.Body, cancellationToken);
        return TypedResults.Created($"/v1/datasets/{dataset.Id}", dataset);
    }

    public static async Task<Results<Ok<DatasetView>, ProblemHttpResult>> GetDataset(string id, ITrainingStore training, CancellationToken cancellationToken) =>
        await training.GetDatasetAsync(id, cancellationToken) is { } dataset
            ? TypedResults.Ok(dataset)
            : Problems.Create(StatusCodes.Status404NotFound, "Unknown dataset", $"No dataset with id '{id}' is stored.");
}
