using AIaaS.Queue.Workers.Recipes;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>What one request of a model call ends with: its answer (the recipe's outputs, or the model's), or its reason.</summary>
internal readonly record struct RecordOutcome(NamedTensor[]? Outputs, string? Error);

/// <summary>
/// Runs requests in one model call and turns each one's outputs into its answer, so that whatever goes wrong fails only
/// the requests it concerns: should the call fail, each request runs alone (one bad request fails with the reason); a
/// recipe that cannot post-process one record fails that record alone. Shared by predict batches and bulk chunks.
/// </summary>
internal static class IsolatedRun
{
    /// <param name="model">The model to call.</param>
    /// <param name="requests">Prepared requests that may share one call.</param>
    /// <param name="what">How the reason names the request: "input" (a predict job) or "record" (a bulk line).</param>
    /// <param name="batchFailed">Told when the merged call failed, before the requests run one by one.</param>
    public static (RecordOutcome[] Outcomes, double PaddingEfficiency) Run(LoadedModel model, IReadOnlyList<PreparedRequest> requests,
        string what, Action<Exception>? batchFailed = null)
    {
        var outcomes = new RecordOutcome[requests.Count];
        NamedTensor[][]? merged = null;
        var efficiency = 1.0;
        try
        {
            (merged, efficiency) = model.Run(requests);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            batchFailed?.Invoke(ex);
        }

        if (merged is not null)
        {
            for (var i = 0; i < requests.Count; i++)
            {
                outcomes[i] = Answer(model, requests[i], merged[i], what);
            }

            return (outcomes, efficiency);
        }

        for (var i = 0; i < requests.Count; i++)
        {
            NamedTensor[] outputs;
            try
            {
                outputs = model.Run([requests[i]]).Outputs[0];
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                outcomes[i] = new RecordOutcome(null, $"Model '{model.Name}' v{model.Version} failed on this {what}: {ex.Message}");
                continue;
            }

            outcomes[i] = Answer(model, requests[i], outputs, what);
        }

        return (outcomes, 1);
    }

    private static RecordOutcome Answer(LoadedModel model, PreparedRequest request, NamedTensor[] outputs, string what)
    {
        try
        {
            return new RecordOutcome(model.Answer(request, outputs), null);
        }
        catch (RecipeException ex)
        {
            return new RecordOutcome(null, $"Model '{model.Name}' v{model.Version}: the recipe could not answer this {what}: {ex.Message}");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A fault of the post-processing itself: this record fails with it, the batch's other records keep their answers.
            return new RecordOutcome(null, $"Model '{model.Name}' v{model.Version}: the recipe failed on this {what} ({ex.GetType().Name}: {ex.Message}).");
        }
    }
}
