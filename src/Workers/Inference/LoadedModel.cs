using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>One model version loaded into a shared <see cref="InferenceSession"/>, which ONNX Runtime lets many threads run at once.</summary>
internal sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    public LoadedModel(string name, int version, InferenceSession session, string device, BatchingSettings batching)
    {
        Name = name;
        Version = version;
        _session = session;
        Device = device;

        Inputs = session.InputMetadata.Select(kv => ModelInput.From(name, kv.Key, kv.Value)).ToArray();
        _inputNames = Inputs.Select(i => i.Name).ToArray();
        _outputNames = session.OutputMetadata.Keys.ToArray();
        foreach (var (outputName, meta) in session.OutputMetadata)
        {
            if (!meta.IsTensor)
            {
                throw new ModelNotSupportedException($"Model '{name}' output '{outputName}' is not a tensor; only tensor outputs are supported.");
            }
        }

        var fixedBatch = Inputs.Any(i => i.FixedBatchDimension);
        MaxBatchSize = fixedBatch ? 1 : Math.Max(1, batching.MaxBatchSize ?? 1);
        MaxQueueDelay = TimeSpan.FromMilliseconds(batching.MaxQueueDelayMilliseconds ?? 0);
    }

    public string Name { get; }
    public int Version { get; }
    public string Device { get; }
    public IReadOnlyList<ModelInput> Inputs { get; }
    public int MaxBatchSize { get; }
    public TimeSpan MaxQueueDelay { get; }

    /// <summary>Runs one batch. <paramref name="inputs"/> holds, per model input, the records' values back to back.
    /// Returns, per record, its outputs by name.</summary>
    public Dictionary<string, TensorValue>[] Run(IReadOnlyList<float[]> inputs, int batchSize)
    {
        var outputs = RunFlat(inputs, batchSize);
        var results = new Dictionary<string, TensorValue>[batchSize];
        for (var r = 0; r < batchSize; r++)
        {
            var record = new Dictionary<string, TensorValue>(outputs.Length, StringComparer.Ordinal);
            foreach (var output in outputs)
            {
                record[output.Name] = new TensorValue
                {
                    Shape = output.RecordShape,
                    Data = output.Data.AsSpan(r * output.RecordLength, output.RecordLength).ToArray(),
                };
            }

            results[r] = record;
        }

        return results;
    }

    /// <summary>Runs one batch and returns each output whole: the records' values back to back, as the model wrote them.
    /// Bulk scoring writes its output lines straight from these, without a dictionary per record.</summary>
    public BatchOutput[] RunFlat(IReadOnlyList<float[]> inputs, int batchSize)
    {
        var values = new OrtValue[Inputs.Count];
        try
        {
            for (var i = 0; i < Inputs.Count; i++)
            {
                var input = Inputs[i];
                var shape = new long[input.RecordShape.Length + 1];
                shape[0] = batchSize;
                for (var d = 0; d < input.RecordShape.Length; d++)
                {
                    shape[d + 1] = input.RecordShape[d];
                }

                values[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                    inputs[i].AsMemory(0, batchSize * input.RecordLength), shape);
            }

            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, _inputNames, values, _outputNames);
            var results = new BatchOutput[_outputNames.Length];
            for (var o = 0; o < _outputNames.Length; o++)
            {
                results[o] = ReadOutput(_outputNames[o], outputs[o], batchSize);
            }

            return results;
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }
        }
    }

    private BatchOutput ReadOutput(string outputName, OrtValue output, int batchSize)
    {
        var info = output.GetTensorTypeAndShape();
        var shape = info.Shape;
        if (shape.Length == 0 || shape[0] != batchSize)
        {
            throw new ModelNotSupportedException(
                $"Model '{Name}' output '{outputName}' has shape [{string.Join(", ", shape)}]; its first dimension must be the batch ({batchSize}).");
        }

        var recordShape = shape.Skip(1).Select(d => checked((int)d)).ToArray();
        var recordLength = recordShape.Aggregate(1, (a, b) => a * b);
        return new BatchOutput(outputName, recordShape, recordLength, ReadAsFloat(output, info.ElementDataType, outputName).ToArray());
    }

    private ReadOnlySpan<float> ReadAsFloat(OrtValue value, TensorElementType type, string outputName) => type switch
    {
        TensorElementType.Float => value.GetTensorDataAsSpan<float>(),
        TensorElementType.Double => ToFloat(value.GetTensorDataAsSpan<double>(), d => (float)d),
        TensorElementType.Int64 => ToFloat(value.GetTensorDataAsSpan<long>(), l => l),
        TensorElementType.Int32 => ToFloat(value.GetTensorDataAsSpan<int>(), i => i),
        TensorElementType.Bool => ToFloat(value.GetTensorDataAsSpan<bool>(), b => b ? 1f : 0f),
        _ => throw new ModelNotSupportedException($"Model '{Name}' output '{outputName}' has element type {type}; only numeric outputs are supported."),
    };

    private static float[] ToFloat<T>(ReadOnlySpan<T> source, Func<T, float> convert)
    {
        var result = new float[source.Length];
        for (var i = 0; i < source.Length; i++)
        {
            result[i] = convert(source[i]);
        }

        return result;
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>One output of a batch: the shape of one record's part and every record's values back to back.</summary>
internal sealed record BatchOutput(string Name, int[] RecordShape, int RecordLength, float[] Data);
