using System.Globalization;

namespace AIaaS.Queue.Contracts;

/// <summary>
/// The curl-friendly text form of per-input padding and maximum shapes, as <c>PUT /v1/models/{name}</c> takes it in its query,
/// the CLI in its options and the model metadata shows it; part of the HTTP wire, so that the SDK and the API read it alike:
/// <list type="bullet">
/// <item><c>pad=input_ids:1,attention_mask:1</c>: pad <c>input_ids</c> and <c>attention_mask</c> along axis 1; entries are
/// <c>input:axis[=value]</c>, comma-separated or in repeated <c>pad</c> parameters; an input padded on several axes repeats its
/// name; the value (default 0) is written into padding, one per input.</item>
/// <item><c>maxShape=input_ids:-1x256</c>: per axis, the largest size a request may have, <c>x</c>-separated, -1 for no bound;
/// one entry per input, comma-separated or repeated.</item>
/// </list>
/// </summary>
public static class InputBatchingSyntax
{
    /// <summary>The settings the <paramref name="pad"/> and <paramref name="maxShape"/> texts give, or the reason they cannot be read.</summary>
    public static (IReadOnlyDictionary<string, InputBatching>? Inputs, string? Problem) Parse(IEnumerable<string?> pad, IEnumerable<string?> maxShape)
    {
        ArgumentNullException.ThrowIfNull(pad);
        ArgumentNullException.ThrowIfNull(maxShape);
        var axes = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var entry in Entries(pad))
        {
            var (name, rest) = Split(entry, ':');
            var (axisText, valueText) = Split(rest ?? "", '=');
            if (name.Length == 0 || !int.TryParse(axisText, NumberStyles.None, CultureInfo.InvariantCulture, out var axis))
            {
                return (null, $"pad entry '{entry}' is not input:axis[=value] (for example input_ids:1 or input_ids:1=0).");
            }

            if (valueText is not null)
            {
                if (!double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
                {
                    return (null, $"pad entry '{entry}' has a pad value that is not a finite number.");
                }

                if (values.TryGetValue(name, out var earlier) && earlier != value)
                {
                    return (null, $"pad gives input '{name}' two pad values ({Format(earlier)} and {Format(value)}); an input has one.");
                }

                values[name] = value;
            }

            var list = axes.TryGetValue(name, out var found) ? found : axes[name] = [];
            if (!list.Contains(axis))
            {
                list.Add(axis);
            }
        }

        foreach (var entry in Entries(maxShape))
        {
            var (name, dims) = Split(entry, ':');
            var parsed = (dims ?? "").Split('x');
            var shape = new long[parsed.Length];
            if (name.Length == 0 || dims is null
                || !parsed.Select((d, i) => long.TryParse(d, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out shape[i]) && shape[i] >= -1 && shape[i] != 0).All(ok => ok))
            {
                return (null, $"maxShape entry '{entry}' is not input:dims with dims x-separated, each -1 (no bound) or above 0 (for example input_ids:-1x256).");
            }

            if (!shapes.TryAdd(name, shape))
            {
                return (null, $"maxShape names input '{name}' twice.");
            }
        }

        var names = axes.Keys.Concat(values.Keys).Concat(shapes.Keys).Distinct(StringComparer.Ordinal).ToList();
        if (names.Count == 0)
        {
            return (null, null);
        }

        return (names.ToDictionary(n => n, n => new InputBatching
        {
            PadAxes = axes.TryGetValue(n, out var a) ? [.. a.Order()] : null,
            PadValue = values.GetValueOrDefault(n),
            MaxShape = shapes.GetValueOrDefault(n),
        }, StringComparer.Ordinal), null);
    }

    /// <summary>The <c>pad</c> text of the settings (<c>input_ids:1,attention_mask:1</c>), or null when nothing is padded.</summary>
    public static string? FormatPad(IReadOnlyDictionary<string, InputBatching>? inputs)
    {
        var entries = (inputs ?? new Dictionary<string, InputBatching>())
            .SelectMany(kv => (kv.Value.PadAxes ?? []).Select(axis =>
                $"{kv.Key}:{axis.ToString(CultureInfo.InvariantCulture)}{(kv.Value.PadValue != 0 ? "=" + Format(kv.Value.PadValue) : "")}"))
            .ToList();
        return entries.Count == 0 ? null : string.Join(',', entries);
    }

    /// <summary>The <c>maxShape</c> text of the settings (<c>input_ids:-1x256</c>), or null when no input is bounded.</summary>
    public static string? FormatMaxShape(IReadOnlyDictionary<string, InputBatching>? inputs)
    {
        var entries = (inputs ?? new Dictionary<string, InputBatching>())
            .Where(kv => kv.Value.MaxShape is { Count: > 0 })
            .Select(kv => $"{kv.Key}:{string.Join('x', kv.Value.MaxShape!.Select(d => d.ToString(CultureInfo.InvariantCulture)))}")
            .ToList();
        return entries.Count == 0 ? null : string.Join(',', entries);
    }

    private static IEnumerable<string> Entries(IEnumerable<string?> texts) =>
        texts.SelectMany(t => (t ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    private static (string Before, string? After) Split(string text, char separator)
    {
        var at = text.LastIndexOf(separator);
        return at < 0 ? (text.Trim(), null) : (text[..at].Trim(), text[(at + 1)..].Trim());
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
