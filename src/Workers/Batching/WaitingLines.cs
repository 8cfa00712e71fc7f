using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Workers.Batching;

/// <summary>
/// The requests waiting in one model's batcher, one line per priority, each in arrival order, and the rules that form a
/// batch from them. Owned by the batcher's loop alone, so not thread-safe.
/// </summary>
internal sealed class WaitingLines
{
    private readonly List<PendingPrediction> _high = [];
    private readonly List<PendingPrediction> _normal = [];

    public int Count => _high.Count + _normal.Count;

    public IEnumerable<PendingPrediction> All => _high.Concat(_normal);

    public void Add(PendingPrediction prediction) => Line(prediction).Add(prediction);

    /// <summary>
    /// The priority rule: the next batch is formed around the oldest high-priority request, or the oldest normal one when
    /// none is high, and high-priority requests fill it first. Against starvation, a normal request that has waited longer
    /// than <paramref name="agingTicks"/> leads the batch instead, one such per batch: under a flood of high-priority
    /// work normal requests still move at one per model call at least, and high-priority ones keep every other slot.
    /// </summary>
    public PendingPrediction Head(long agingTicks, long now)
    {
        if (_high.Count > 0 && _normal.Count > 0 && now - _normal[0].EnqueuedAt > agingTicks)
        {
            return _normal[0];
        }

        return _high.Count > 0 ? _high[0] : _normal[0];
    }

    /// <summary>Rows waiting that may share a model call with <paramref name="head"/> (equal shapes apart from padded axes),
    /// and the arrival of the oldest of them, from which the max queue delay counts.</summary>
    public (long Rows, long Oldest) Compatible(PendingPrediction head)
    {
        long rows = 0, oldest = long.MaxValue;
        foreach (var waiting in All)
        {
            if (waiting.Request.GroupKey == head.Request.GroupKey)
            {
                rows += waiting.Request.Rows;
                oldest = Math.Min(oldest, waiting.EnqueuedAt);
            }
        }

        return (rows, oldest);
    }

    /// <summary>
    /// Takes the batch led by <paramref name="head"/>: high-priority requests first, then normal ones, each line in
    /// arrival order, up to <paramref name="maxRows"/> rows. With <paramref name="groupByLength"/> (padded models) each
    /// line is taken nearest length to the head's first, so that a batch pads little; the head is always the oldest by
    /// the priority rule, so a request of an unusual length still leads a batch of its own in turn.
    /// </summary>
    public List<PendingPrediction> Take(PendingPrediction head, int maxRows, bool groupByLength)
    {
        var batch = new List<PendingPrediction>(Math.Min(maxRows, 1024)) { head };
        Line(head).Remove(head);
        var rows = (long)head.Request.Rows;
        foreach (var line in (ReadOnlySpan<List<PendingPrediction>>)[_high, _normal])
        {
            var candidates = line.Where(p => p.Request.GroupKey == head.Request.GroupKey);
            if (groupByLength)
            {
                // Stable: equal distances keep arrival order.
                candidates = candidates.OrderBy(p => Math.Abs(p.Request.Length - head.Request.Length));
            }

            var taken = new HashSet<PendingPrediction>();
            foreach (var candidate in candidates)
            {
                if (rows >= maxRows)
                {
                    break;
                }

                if (rows + candidate.Request.Rows <= maxRows)
                {
                    batch.Add(candidate);
                    taken.Add(candidate);
                    rows += candidate.Request.Rows;
                }
            }

            line.RemoveAll(taken.Contains);
        }

        return batch;
    }

    private List<PendingPrediction> Line(PendingPrediction prediction) => prediction.Job.Priority == JobPriority.High ? _high : _normal;
}
