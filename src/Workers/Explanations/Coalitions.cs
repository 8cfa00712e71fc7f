namespace AIaaS.Queue.Workers.Explanations;

/// <summary>
/// The coalitions (subsets of features, as masks) a Kernel SHAP explanation evaluates, each with its weight in the
/// regression. The empty and the full coalition are never among them: the regression takes those as constraints.
/// </summary>
internal sealed class Coalitions
{
    private Coalitions(int features, bool[][] masks, double[] weights, bool exact)
    {
        Features = features;
        Masks = masks;
        Weights = weights;
        Exact = exact;
    }

    public int Features { get; }

    /// <summary>True for feature i: the record's own value; false: the background's.</summary>
    public bool[][] Masks { get; }

    public double[] Weights { get; }

    /// <summary>Every coalition, each with its Shapley kernel weight: the regression then gives the Shapley values exactly.</summary>
    public bool Exact { get; }

    public int Count => Masks.Length;

    /// <summary>Every coalition when the model is small enough (and no smaller sample was asked for), else a sample.</summary>
    public static Coalitions For(int features, int? samples, int seed, int maxExactFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        var all = features <= 30 ? (1L << features) - 2 : long.MaxValue;
        return features <= maxExactFeatures && (samples is null || samples >= all)
            ? Enumerate(features)
            : Sample(features, samples ?? 2048 + 2 * features, seed);
    }

    /// <summary>The Shapley kernel (Lundberg and Lee, 2017, theorem 2): (M − 1) / (C(M, s) · s · (M − s)).</summary>
    public static double KernelWeight(int features, int size) =>
        (features - 1) / (Binomial(features, size) * size * (features - size));

    public static Coalitions Enumerate(int features)
    {
        var count = (1 << features) - 2;
        var masks = new bool[count][];
        var weights = new double[count];
        for (var bits = 1; bits <= count; bits++)
        {
            var mask = new bool[features];
            var size = 0;
            for (var i = 0; i < features; i++)
            {
                mask[i] = (bits & (1 << i)) != 0;
                size += mask[i] ? 1 : 0;
            }

            masks[bits - 1] = mask;
            weights[bits - 1] = KernelWeight(features, size);
        }

        return new Coalitions(features, masks, weights, exact: true);
    }

    /// <summary>
    /// Samples coalitions from the kernel itself: a size with probability proportional to the kernel's total weight of that
    /// size, (M − 1) / (s (M − s)), then a subset of that size uniformly. Each is taken with its complement (paired
    /// sampling halves the variance), and each distinct coalition is weighted by how often it was drawn: the regression's
    /// weights are then the kernel's in expectation.
    /// </summary>
    public static Coalitions Sample(int features, int samples, int seed)
    {
        if (features == 1)
        {
            return new Coalitions(1, [], [], exact: true);
        }

        var random = new Random(seed);
        var sizeWeights = new double[features];
        for (var s = 1; s < features; s++)
        {
            sizeWeights[s] = (features - 1.0) / (s * (features - s));
        }

        var total = sizeWeights.Sum();
        var counts = new Dictionary<string, (bool[] Mask, int Count)>(StringComparer.Ordinal);
        var order = Enumerable.Range(0, features).ToArray();
        for (var drawn = 0; drawn < Math.Max(2, samples); drawn += 2)
        {
            var size = DrawSize(random, sizeWeights, total);
            random.Shuffle(order);
            var mask = new bool[features];
            for (var i = 0; i < size; i++)
            {
                mask[order[i]] = true;
            }

            Add(counts, mask);
            Add(counts, Array.ConvertAll(mask, m => !m));
        }

        var entries = counts.Values.ToArray();
        return new Coalitions(features, [.. entries.Select(e => e.Mask)], [.. entries.Select(e => (double)e.Count)], exact: false);
    }

    private static int DrawSize(Random random, double[] sizeWeights, double total)
    {
        var u = random.NextDouble() * total;
        for (var s = 1; s < sizeWeights.Length; s++)
        {
            u -= sizeWeights[s];
            if (u <= 0)
            {
                return s;
            }
        }

        return sizeWeights.Length - 1;
    }

    private static void Add(Dictionary<string, (bool[] Mask, int Count)> counts, bool[] mask)
    {
        var key = string.Create(mask.Length, mask, (span, m) =>
        {
            for (var i = 0; i < m.Length; i++)
            {
                span[i] = m[i] ? '1' : '0';
            }
        });
        counts[key] = counts.TryGetValue(key, out var seen) ? (seen.Mask, seen.Count + 1) : (mask, 1);
    }

    private static double Binomial(int n, int k)
    {
        double result = 1;
        for (var i = 1; i <= k; i++)
        {
            result = result * (n - k + i) / i;
        }

        return result;
    }
}
