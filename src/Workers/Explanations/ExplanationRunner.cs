using System.Diagnostics;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;
using AIaaS.Queue.Workers.Batching;
using AIaaS.Queue.Workers.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Explanations;

/// <summary>
/// Runs a predict job that asked for an explanation: its prediction as the batcher would make it (one model call, the same
/// answer), then its attributions, and the record of both. The caller stores the record before acknowledging the message.
/// </summary>
internal sealed class ExplanationRunner(IOptions<WorkerOptions> options, TimeProvider time, ILogger<ExplanationRunner> logger)
{
    /// <summary>The job's final record: succeeded with outputs and explanation, or failed with the reason.</summary>
    public async Task<JobRecord> RunAsync(LoadedModel model, SubmitPredictJob job, string tenantId, PreparedRequest request)
    {
        var startedAt = time.GetUtcNow();
        var (outputs, error, explanation) = await Task.Run(() => Run(model, job, request)).ConfigureAwait(false);
        return BatchExecutor.Outcome(job, tenantId, model, outputs, error, startedAt, time.GetUtcNow(), options.Value.WorkerId)
            with { Explanation = explanation };
    }

    private (IReadOnlyList<InferTensor>? Outputs, string? Error, Explanation? Explanation) Run(LoadedModel model, SubmitPredictJob job, PreparedRequest request)
    {
        if (request.Rows != 1)
        {
            return (null, $"An explanation covers one record; this job gives {request.Rows} rows.", null);
        }

        var (outcomes, _) = IsolatedRun.Run(model, [request], "input");
        if (outcomes[0].Error is { } error)
        {
            return (null, error, null);
        }

        var stopwatch = Stopwatch.StartNew();
        var explainer = ModelExplanations.Create(model, job.Explain!, options.Value.ExplainRowsPerCall);
        var explanation = explainer.Explain([(float[])request.Inputs[0].Values])[0];
        logger.LogInformation("Job {JobId} explained on {Model} v{Version}: {Coalitions} coalitions ({Mode}) in {Calls} model calls, {Milliseconds:0} ms",
            job.JobId, model.Name, model.Version, explanation.Coalitions, explanation.Exact ? "exact" : "sampled", explainer.ModelCalls,
            stopwatch.Elapsed.TotalMilliseconds);
        return (Array.ConvertAll(outcomes[0].Outputs!, o => o.ToInferTensor()), null, explanation);
    }
}
