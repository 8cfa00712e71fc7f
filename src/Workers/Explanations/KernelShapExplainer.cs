namespace AIaaS.Queue.Workers.Explanations;

/// <summary>Runs the model on <paramref name="rowCount"/> rows (row-major, <c>features</c> floats each) and writes
/// <c>outputWidth</c> values per row into <paramref name="outputs"/>.</summary>
internal delegate void RowEvaluator(float[] rows, int rowCount, double[] outputs);

/// <summary>A record's attributions: per output value, the model's value, the base value and one attribution per feature.</summary>
internal sealed record ExplainedRecord(double[] Values, double[] BaseValues, double[][] Attributions);

/// <summary>
/// Kernel SHAP over a background: the value of a coalition is the model's (weighted) mean output over the background rows
/// with the coalition's features taken from the record. Every row any record needs (its own, then each coalition against
/// each background row) streams through one buffer of <c>rowsPerCall</c> rows, so that the model runs in large calls
/// whatever the records, coalitions and background; a buffer of one coalition's rows is the one-call-per-coalition way,
/// kept for the benchmark's comparison.
/// </summary>
internal sealed class KernelShapExplainer
{
    private readonly BackgroundData _background;
    private readonly int _outputWidth;
    private readonly RowEvaluator _evaluate;
    private readonly int _rowsPerCall;
    private readonly ShapleyRegression _regression;
    private readonly int[][] _included;
    private double[]? _baseValues;

    public KernelShapExplainer(BackgroundData background, Coalitions coalitions, int outputWidth, RowEvaluator evaluate, int rowsPerCall)
    {
        if (coalitions.Features != background.Features)
        {
            throw new ArgumentException($"The background has {background.Features} features; the coalitions {coalitions.Features}.", nameof(coalitions));
        }

        _background = background;
        Coalitions = coalitions;
        _outputWidth = outputWidth;
        _evaluate = evaluate;
        _rowsPerCall = Math.Max(1, rowsPerCall);
        _regression = new ShapleyRegression(coalitions);
        _included = Array.ConvertAll(coalitions.Masks, mask => Enumerable.Range(0, mask.Length).Where(i => mask[i]).ToArray());
    }

    public Coalitions Coalitions { get; }

    /// <summary>Model calls made so far.</summary>
    public int ModelCalls { get; private set; }

    /// <summary>The record's own row, then every coalition against every background row.</summary>
    private int RowsPerRecord => 1 + Coalitions.Count * _background.Rows;

    public ExplainedRecord[] Explain(IReadOnlyList<float[]> records)
    {
        var m = Coalitions.Features;
        foreach (var record in records)
        {
            if (record.Length != m)
            {
                throw new ArgumentException($"A record has {record.Length} features; the model takes {m}.", nameof(records));
            }
        }

        var baseValues = _baseValues ??= BaseValues();
        var values = new double[records.Count][];
        var coalitionValues = new double[records.Count][];
        for (var r = 0; r < records.Count; r++)
        {
            values[r] = new double[_outputWidth];
            coalitionValues[r] = new double[Coalitions.Count * _outputWidth];
        }

        Stream(records, values, coalitionValues);
        var explained = new ExplainedRecord[records.Count];
        var perOutput = new double[Coalitions.Count];
        for (var r = 0; r < records.Count; r++)
        {
            var attributions = new double[_outputWidth][];
            for (var k = 0; k < _outputWidth; k++)
            {
                for (var c = 0; c < Coalitions.Count; c++)
                {
                    perOutput[c] = coalitionValues[r][c * _outputWidth + k];
                }

                attributions[k] = _regression.Solve(perOutput, baseValues[k], values[r][k]);
            }

            explained[r] = new ExplainedRecord(values[r], (double[])baseValues.Clone(), attributions);
        }

        return explained;
    }

    /// <summary>The model's weighted mean output over the background: the empty coalition's value.</summary>
    private double[] BaseValues()
    {
        var outputs = new double[_background.Rows * _outputWidth];
        _evaluate(_background.Values, _background.Rows, outputs);
        ModelCalls++;
        var mean = new double[_outputWidth];
        for (var b = 0; b < _background.Rows; b++)
        {
            for (var k = 0; k < _outputWidth; k++)
            {
                mean[k] += _background.Weights[b] * outputs[b * _outputWidth + k];
            }
        }

        return mean;
    }

    /// <summary>Fills the buffer row by row in the order records, then coalitions, then background rows, and runs the model
    /// each time it is full. A coalition row is its background row copied whole, then the coalition's own features from
    /// the record: a block copy and a short scatter, rather than a choice per feature.</summary>
    private void Stream(IReadOnlyList<float[]> records, double[][] values, double[][] coalitionValues)
    {
        var m = Coalitions.Features;
        var capacity = (int)Math.Min(_rowsPerCall, (long)RowsPerRecord * records.Count);
        var rows = new float[capacity * m];
        var outputs = new double[capacity * _outputWidth];
        var slots = new (int Record, int Coalition, int Background)[capacity];
        var count = 0;
        for (var r = 0; r < records.Count; r++)
        {
            var record = records[r];
            record.CopyTo(rows, count * m);
            slots[count++] = (r, -1, 0);
            Flush(ref count);
            for (var c = 0; c < Coalitions.Count; c++)
            {
                var own = _included[c];
                for (var b = 0; b < _background.Rows; b++)
                {
                    var row = rows.AsSpan(count * m, m);
                    _background.Row(b).CopyTo(row);
                    foreach (var i in own)
                    {
                        row[i] = record[i];
                    }

                    slots[count++] = (r, c, b);
                    Flush(ref count);
                }
            }
        }

        if (count > 0)
        {
            Run(count);
        }

        void Flush(ref int filled)
        {
            if (filled == capacity)
            {
                Run(filled);
                filled = 0;
            }
        }

        void Run(int filled)
        {
            _evaluate(rows, filled, outputs);
            ModelCalls++;
            for (var i = 0; i < filled; i++)
            {
                Accumulate(slots[i], outputs.AsSpan(i * _outputWidth, _outputWidth), values, coalitionValues);
            }
        }
    }

    private void Accumulate((int Record, int Coalition, int Background) slot, ReadOnlySpan<double> output, double[][] values,
        double[][] coalitionValues)
    {
        var (r, c, b) = slot;
        if (c < 0)
        {
            output.CopyTo(values[r]);
            return;
        }

        var weight = _background.Weights[b];
        var target = coalitionValues[r].AsSpan(c * _outputWidth, _outputWidth);
        for (var k = 0; k < _outputWidth; k++)
        {
            target[k] += weight * output[k];
        }
    }
}
