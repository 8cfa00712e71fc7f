namespace AIaaS.Queue.Workers.Recipes;

// Stand-in until the lead's ClassScores lands in main; replaced by it then.
internal static class ScoreMath
{
    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        var max = float.NegativeInfinity;
        foreach (var x in logits)
        {
            max = Math.Max(max, x);
        }

        var result = new float[logits.Length];
        double sum = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            var e = Math.Exp(logits[i] - max);
            result[i] = (float)e;
            sum += e;
        }

        for (var i = 0; i < result.Length; i++)
        {
            result[i] = (float)(result[i] / sum);
        }

        return result;
    }

    public static float[] Sigmoid(ReadOnlySpan<float> logits)
    {
        var result = new float[logits.Length];
        for (var i = 0; i < logits.Length; i++)
        {
            result[i] = (float)(1 / (1 + Math.Exp(-logits[i])));
        }

        return result;
    }

    public static int[] TopK(ReadOnlySpan<float> scores, int k)
    {
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var copy = scores.ToArray();
        Array.Sort(order, (a, b) => copy[b].CompareTo(copy[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return order[..Math.Min(k, order.Length)];
    }
}
