using System.Globalization;
using System.Text;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using nietras.SeparatedValues;

namespace AIaaS.Queue.Training;

/// <summary>The data failed a check before training; the message names the row or column.</summary>
internal sealed class InvalidTrainingDataException(string message) : Exception(message);

/// <summary>Features and labels read from a CSV (header line) or JSON-lines file and checked for training.</summary>
internal sealed class TrainingData
{
    public const int MinimumRows = 10;

    public required string[] FeatureColumns { get; init; }
    public required float[][] Features { get; init; }

    /// <summary>Class index per row (classification) or the value (regression).</summary>
    public required float[] Labels { get; init; }

    /// <summary>Class names in index order; null for regression.</summary>
    public string[]? Classes { get; init; }

    public static TrainingData Load(string path, SubmitTrainJob spec)
    {
        var (columns, rows) = ReadTable(path);
        return FromTable(columns, rows, spec);
    }

    internal static (string[] Columns, List<(int Line, string?[] Values)> Rows) ReadTable(string path)
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        var first = reader.ReadLine();
        while (first is not null && first.Trim().Length == 0)
        {
            first = reader.ReadLine();
        }

        if (first is null)
        {
            throw new InvalidTrainingDataException("The dataset is empty.");
        }

        var rows = new List<(int, string?[])>();
        if (first.TrimStart().StartsWith('{'))
        {
            // JSON lines: the columns are the keys of the first object; later objects may not add any.
            var lineNo = 1;
            string[]? columns = null;
            for (var line = first; line is not null; line = reader.ReadLine(), lineNo++)
            {
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                JsonElement obj;
                try
                {
                    obj = JsonDocument.Parse(line).RootElement;
                }
                catch (JsonException ex)
                {
                    throw new InvalidTrainingDataException($"Line {lineNo} is not valid JSON: {ex.Message}");
                }

                if (obj.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidTrainingDataException($"Line {lineNo} is not a JSON object.");
                }

                columns ??= obj.EnumerateObject().Select(p => p.Name).ToArray();
                var values = new string?[columns.Length];
                for (var c = 0; c < columns.Length; c++)
                {
                    values[c] = obj.TryGetProperty(columns[c], out var v) ? v.ValueKind switch
                    {
                        JsonValueKind.Number => v.GetRawText(),
                        JsonValueKind.String => v.GetString(),
                        JsonValueKind.True => "1",
                        JsonValueKind.False => "0",
                        JsonValueKind.Null => null,
                        _ => v.GetRawText(),
                    } : null;
                }

                rows.Add((lineNo, values));
            }

            return (columns ?? [], rows);
        }

        return ReadCsv(path);
    }

    /// <summary>CSV with a header line, parsed by Sep (RFC 4180: a quoted value may hold commas, doubled quotes and line
    /// breaks, as the workers write inline rows); blank lines are skipped, and a row is known by the line it starts on.</summary>
    private static (string[] Columns, List<(int Line, string?[] Values)> Rows) ReadCsv(string path)
    {
        using var reader = Sep.New(',').Reader(o => o with { HasHeader = false, DisableColCountCheck = true, Unescape = true })
            .From(new StreamReader(path, Encoding.UTF8));
        string[]? header = null;
        var rows = new List<(int, string?[])>();
        foreach (var row in reader)
        {
            if (row.Span.Trim().IsEmpty)
            {
                continue;
            }

            if (header is null)
            {
                header = [.. row[..].ToStringsArray().Select(h => h.Trim())];
                continue;
            }

            if (row.ColCount != header.Length)
            {
                throw new InvalidTrainingDataException(
                    $"Line {row.LineNumberFrom} has {row.ColCount} values but the header has {header.Length} columns.");
            }

            rows.Add((row.LineNumberFrom, row[..].ToStringsArray()));
        }

        return (header ?? [], rows);
    }

    internal static TrainingData FromTable(string[] columns, List<(int Line, string?[] Values)> rows, SubmitTrainJob spec)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var c = 0; c < columns.Length; c++)
        {
            if (!index.TryAdd(columns[c], c))
            {
                throw new InvalidTrainingDataException($"Column '{columns[c]}' appears twice.");
            }
        }

        if (!index.TryGetValue(spec.LabelColumn, out var labelIndex))
        {
            throw new InvalidTrainingDataException(
                $"Missing column: the label column '{spec.LabelColumn}' is not in the data (columns: {string.Join(", ", columns)}).");
        }

        var featureColumns = spec.FeatureColumns?.ToArray() ?? columns.Where(c => c != spec.LabelColumn).ToArray();
        foreach (var f in featureColumns)
        {
            if (!index.ContainsKey(f))
            {
                throw new InvalidTrainingDataException($"Missing column: the feature column '{f}' is not in the data (columns: {string.Join(", ", columns)}).");
            }

            if (f == spec.LabelColumn)
            {
                throw new InvalidTrainingDataException($"Column '{f}' is both the label and a feature.");
            }
        }

        if (featureColumns.Length == 0)
        {
            throw new InvalidTrainingDataException("There are no feature columns besides the label.");
        }

        if (rows.Count < MinimumRows)
        {
            throw new InvalidTrainingDataException($"Too few rows: training needs at least {MinimumRows}, the data has {rows.Count}.");
        }

        var features = new float[rows.Count][];
        var rawLabels = new string[rows.Count];
        for (var r = 0; r < rows.Count; r++)
        {
            var (line, values) = rows[r];
            var x = new float[featureColumns.Length];
            for (var f = 0; f < featureColumns.Length; f++)
            {
                var text = values[index[featureColumns[f]]];
                if (!TryNumber(text, out var value))
                {
                    throw new InvalidTrainingDataException(
                        $"Row {r + 1} (line {line}), column '{featureColumns[f]}': {Describe(text)} is not a number.");
                }

                x[f] = value;
            }

            features[r] = x;
            var label = values[labelIndex]?.Trim();
            if (string.IsNullOrEmpty(label))
            {
                throw new InvalidTrainingDataException($"Row {r + 1} (line {line}), column '{spec.LabelColumn}': the label is missing.");
            }

            if (spec.Task == TrainingTask.Regression && !TryNumber(label, out _))
            {
                throw new InvalidTrainingDataException(
                    $"Row {r + 1} (line {line}), column '{spec.LabelColumn}': {Describe(label)} is not a number, and regression needs numeric labels.");
            }

            rawLabels[r] = label;
        }

        if (spec.Task == TrainingTask.Regression)
        {
            return new TrainingData
            {
                FeatureColumns = featureColumns,
                Features = features,
                Labels = rawLabels.Select(l => { TryNumber(l, out var v); return v; }).ToArray(),
            };
        }

        var distinct = rawLabels.Distinct(StringComparer.Ordinal).ToList();
        // Numeric class labels sort as numbers ("2" before "10"), others ordinally.
        var classes = distinct.All(l => TryNumber(l, out _))
            ? distinct.OrderBy(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray()
            : distinct.Order(StringComparer.Ordinal).ToArray();
        if (classes.Length < 2)
        {
            throw new InvalidTrainingDataException(
                $"Single class: every row of column '{spec.LabelColumn}' is '{classes[0]}'; classification needs at least two classes.");
        }

        if (spec.Task == TrainingTask.BinaryClassification && classes.Length != 2)
        {
            throw new InvalidTrainingDataException(
                $"Column '{spec.LabelColumn}' has {classes.Length} classes ({string.Join(", ", classes.Take(10))}); binary classification needs exactly two.");
        }

        var classIndex = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        return new TrainingData
        {
            FeatureColumns = featureColumns,
            Features = features,
            Labels = rawLabels.Select(l => (float)classIndex[l]).ToArray(),
            Classes = classes,
        };
    }

    private static bool TryNumber(string? text, out float value)
    {
        value = 0;
        if (string.IsNullOrWhiteSpace(text)
            || !double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            || !double.IsFinite(d))
        {
            return false;
        }

        value = (float)d;
        return float.IsFinite(value);
    }

    private static string Describe(string? text) => string.IsNullOrWhiteSpace(text) ? "an empty value" : $"'{text}'";
}
