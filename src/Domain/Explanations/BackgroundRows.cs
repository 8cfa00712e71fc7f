using System.Globalization;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Domain.Explanations;

/// <summary>
/// Background data for explanations, made the same way wherever it comes from: an uploaded CSV file (a header of feature
/// names, then rows of numbers) or the training data. More than <see cref="ExplanationBackground.MaxRows"/> rows are
/// sampled down, reproducibly; explanations cost time in proportion to the rows, and a sample of a hundred is the reference
/// implementation's advice for Kernel SHAP.
/// </summary>
public static class BackgroundRows
{
    public const string TrainingSample = "training-sample", Uploaded = "uploaded";

    /// <summary>At most <see cref="ExplanationBackground.MaxRows"/> of <paramref name="rows"/>, in their order, chosen by a
    /// seeded shuffle so that the same data gives the same background.</summary>
    public static ExplanationBackground Sample(IReadOnlyList<string> features, IReadOnlyList<float[]> rows, string source, int seed = 0)
    {
        var chosen = Enumerable.Range(0, rows.Count).ToArray();
        if (rows.Count > ExplanationBackground.MaxRows)
        {
            new Random(seed).Shuffle(chosen);
            chosen = [.. chosen.Take(ExplanationBackground.MaxRows).Order()];
        }

        return new ExplanationBackground { Features = [.. features], Rows = [.. chosen.Select(i => rows[i])], Source = source };
    }

    /// <summary>A CSV file with a header (the feature names) and rows of numbers, comma-separated; the reason when it is not.</summary>
    public static (ExplanationBackground? Background, string? Problem) ParseCsv(string text)
    {
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
        if (lines.Length < 2)
        {
            return (null, "The background file needs a header of feature names and at least one row of numbers.");
        }

        var features = lines[0].Split(',').Select(n => n.Trim().Trim('"')).ToArray();
        if (features.Any(string.IsNullOrEmpty))
        {
            return (null, "The background file's header has an empty feature name.");
        }

        var rows = new List<float[]>(lines.Length - 1);
        for (var l = 1; l < lines.Length; l++)
        {
            var cells = lines[l].Split(',');
            if (cells.Length != features.Length)
            {
                return (null, $"Line {l + 1} of the background file has {cells.Length} values; the header names {features.Length} features.");
            }

            var row = new float[cells.Length];
            for (var c = 0; c < cells.Length; c++)
            {
                if (!float.TryParse(cells[c].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out row[c]) || !float.IsFinite(row[c]))
                {
                    return (null, $"Line {l + 1} of the background file has '{cells[c].Trim()}' for {features[c]}; every value must be a finite number.");
                }
            }

            rows.Add(row);
        }

        return (Sample(features, rows, Uploaded), null);
    }
}
