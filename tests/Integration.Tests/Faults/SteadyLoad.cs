using System.Collections.Concurrent;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Producer;

namespace AIaaS.Queue.Integration.Tests.Faults;

/// <summary>Submits a wave of jobs every interval without waiting for earlier waves, so that a broker outage holds up
/// the submits it catches but not the pace; a submit either returns (the broker confirmed the job) or throws.</summary>
internal sealed class SteadyLoad(IAiaasClient client, string model, int jobsPerWave, TimeSpan waveInterval)
{
    private readonly ConcurrentQueue<Guid> _submitted = new();
    private readonly ConcurrentQueue<Guid> _failedVisibly = new();

    public IReadOnlyCollection<Guid> Submitted => _submitted;

    private readonly ConcurrentDictionary<Guid, long> _returnedAt = new();

    /// <summary>When each submit returned (<see cref="System.Diagnostics.Stopwatch"/> timestamp): when the client was told
    /// the broker confirmed the job.</summary>
    public IReadOnlyDictionary<Guid, long> ReturnedAt => _returnedAt;

    public IReadOnlyCollection<Guid> FailedVisibly => _failedVisibly;

    public Task BurstAsync(int count)
    {
        var random = new Random(count);
        return Task.WhenAll(Enumerable.Range(0, count).Select(_ => SubmitOneAsync(TestModels.RandomRecord(random))));
    }

    public async Task RunAsync(CancellationToken stop)
    {
        var random = new Random(5);
        var waves = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            var records = Enumerable.Range(0, jobsPerWave).Select(_ => TestModels.RandomRecord(random)).ToList();
            waves.Add(Task.WhenAll(records.Select(SubmitOneAsync)));
            try
            {
                await Task.Delay(waveInterval, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await Task.WhenAll(waves);
    }

    private async Task SubmitOneAsync(float[] features)
    {
        var id = Guid.CreateVersion7();
        try
        {
            await client.SubmitPredictAsync(new PredictRequest { JobId = id, Model = model, Features = features });
            _returnedAt[id] = System.Diagnostics.Stopwatch.GetTimestamp();
            _submitted.Enqueue(id);
        }
        catch (AiaasException)
        {
            _failedVisibly.Enqueue(id);
        }
    }
}
