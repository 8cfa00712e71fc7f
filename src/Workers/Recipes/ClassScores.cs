namespace AIaaS.Queue.Workers.Recipes;

/// <summary>A classifier's logits turned into scores, and the best of them, for the classification recipes.</summary>
internal static class ClassScores
{
    /// <summary>One class per record: probabilities that sum to 1. Computed from the largest logit down, so that large
    /// logits cannot overflow <c>exp</c>.</summary>
    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        var scores = new float[logits.Length];
        if (logits.IsEmpty)
        {
            return scores;
        }

        var max = float.NegativeInfinity;
        foreach (var logit in logits)
        {
            max = Math.Max(max, logit);
        }

        double sum = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            var e = Math.Exp(logits[i] - max);
            scores[i] = (float)e;
            sum += e;
        }

        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = (float)(scores[i] / sum);
        }

        return scores;
    }

    /// <summary>Independent classes (multi-label): each logit's own probability.</summary>
    public static float[] Sigmoid(ReadOnlySpan<float> logits)
    {
        var scores = new float[logits.Length];
        for (var i = 0; i < logits.Length; i++)
        {
            scores[i] = (float)(1 / (1 + Math.Exp(-logits[i])));
        }

        return scores;
    }

    /// <summary>The indexes of the <paramref name="k"/> highest scores, best first; equal scores keep the lower index first,
    /// so that the answer does not depend on the sort.</summary>
    public static int[] TopK(ReadOnlySpan<float> scores, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var values = scores.ToArray();
        Array.Sort(order, (a, b) => values[b].CompareTo(values[a]) is var byScore and not 0 ? byScore : a.CompareTo(b));
        return order[..Math.Min(k, order.Length)];
    }
}
