using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Workers.Explanations;

/// <summary>A model version's background rows, flat and ready to copy into model inputs, with weights that sum to 1.</summary>
internal sealed class BackgroundData
{
    public BackgroundData(int features, float[] values, double[]? weights = null)
    {
        if (features < 1 || values.Length == 0 || values.Length % features != 0)
        {
            throw new ArgumentException($"Background values ({values.Length}) are not whole rows of {features} features.", nameof(values));
        }

        Features = features;
        Values = values;
        Rows = values.Length / features;
        weights ??= Enumerable.Repeat(1.0, Rows).ToArray();
        if (weights.Length != Rows || weights.Any(w => !(w >= 0) || double.IsInfinity(w)) || weights.Sum() <= 0)
        {
            throw new ArgumentException("Background weights must be one non-negative number per row, not all zero.", nameof(weights));
        }

        var sum = weights.Sum();
        Weights = Array.ConvertAll(weights, w => w / sum);
    }

    public int Features { get; }
    public int Rows { get; }
    public float[] Values { get; }
    public double[] Weights { get; }

    public ReadOnlySpan<float> Row(int index) => Values.AsSpan(index * Features, Features);

    public static BackgroundData From(ExplanationBackground background)
    {
        var features = background.Features.Count;
        var values = new float[background.Rows.Count * features];
        for (var r = 0; r < background.Rows.Count; r++)
        {
            if (background.Rows[r].Length != features)
            {
                throw new ArgumentException($"Background row {r + 1} has {background.Rows[r].Length} values; the header names {features}.", nameof(background));
            }

            background.Rows[r].CopyTo(values, r * features);
        }

        return new BackgroundData(features, values, background.Weights?.ToArray());
    }
}
