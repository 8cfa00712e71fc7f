using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// One model version loaded into a shared <see cref="InferenceSession"/>, which ONNX Runtime lets many threads run at once.
/// Runs a batch of prepared requests as one model call: merged along the batch axis, padded where the registration allows,
/// and each output cut back to each request's own rows and lengths.
/// </summary>
internal sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;

    public LoadedModel(string name, int version, InferenceSession session, string device, BatchingSettings batching)
    {
        Name = name;
        Version = version;
        _session = session;
        Device = device;

        var firstDims = session.InputNames.Select(i => session.InputMetadata[i].Dimensions).ToArray();
        BatchMode = firstDims.Length == 0 || firstDims.Any(d => d.Length == 0) ? BatchMode.None
            : firstDims.All(d => d[0] < 0) ? BatchMode.Dynamic
            : firstDims.All(d => d[0] == 1) ? BatchMode.FixedOne
            : BatchMode.None;

        foreach (var configured in batching.Inputs?.Keys ?? [])
        {
            if (!session.InputMetadata.ContainsKey(configured))
            {
                throw new ModelNotSupportedException($"Model '{name}' has no input '{configured}' to pad; its inputs are {string.Join(", ", session.InputNames)}.");
            }
        }

        Inputs = session.InputNames
            .Select(i => ModelInput.From(name, i, session.InputMetadata[i], batching.Inputs?.GetValueOrDefault(i), BatchMode))
            .ToArray();
        _inputNames = Inputs.Select(i => i.Name).ToArray();
        Outputs = session.OutputNames.Select(o => DescribeOutput(name, o, session.OutputMetadata[o])).ToArray();
        MaxBatchSize = BatchMode == BatchMode.Dynamic ? Math.Max(1, batching.MaxBatchSize ?? 1) : 1;
        MaxQueueDelay = TimeSpan.FromMilliseconds(batching.MaxQueueDelayMilliseconds ?? 0);
        IsPadded = Inputs.Any(i => i.IsPadded);
        GroupByLength = IsPadded && (batching.GroupByLength ?? true);
    }

    public string Name { get; }
    public int Version { get; }
    public string Device { get; }
    public BatchMode BatchMode { get; }
    public IReadOnlyList<ModelInput> Inputs { get; }
    public IReadOnlyList<ModelOutput> Outputs { get; }

    /// <summary>Rows per model call: the batch dimension's limit; 1 for models without a dynamic batch dimension.</summary>
    public int MaxBatchSize { get; }
    public TimeSpan MaxQueueDelay { get; }

    /// <summary>Requests of different lengths share model calls, padded to the longest.</summary>
    public bool IsPadded { get; }

    /// <summary>The batcher forms batches of similar lengths rather than in arrival order.</summary>
    public bool GroupByLength { get; }

    private ModelOutput DescribeOutput(string model, string output, NodeMetadata meta)
    {
        if (!meta.IsTensor)
        {
            throw new ModelNotSupportedException($"Model '{model}' output '{output}' is not a tensor; only tensor outputs are supported.");
        }

        var follows = new (int, int)?[meta.Dimensions.Length];
        for (var axis = BatchMode == BatchMode.Dynamic ? 1 : 0; axis < follows.Length; axis++)
        {
            var symbol = axis < meta.SymbolicDimensions.Length ? meta.SymbolicDimensions[axis] : null;
            if (meta.Dimensions[axis] >= 0 || string.IsNullOrEmpty(symbol))
            {
                continue;
            }

            for (var i = 0; i < Inputs.Count && follows[axis] is null; i++)
            {
                var a = Array.FindIndex(Inputs[i].DimNames, n => n == symbol);
                if (a >= 0 && Inputs[i].Padded[a])
                {
                    follows[axis] = (i, a);
                }
            }
        }

        return new ModelOutput(output, follows);
    }

    /// <summary>Runs <paramref name="batch"/> in one model call. Returns, per request, the outputs it asked for, and the
    /// padding efficiency: real elements over elements sent, across the padded inputs (1 when nothing was padded).</summary>
    public (InferTensor[][] Outputs, double PaddingEfficiency) Run(IReadOnlyList<PreparedRequest> batch)
    {
        var rows = 0L;
        foreach (var request in batch)
        {
            rows += request.Rows;
        }

        if (BatchMode != BatchMode.Dynamic && batch.Count != 1)
        {
            throw new InvalidOperationException($"Model '{Name}' has no dynamic batch dimension; it runs one request per call.");
        }

        var (tensors, efficiency) = Assemble(batch, rows);
        var wanted = OutputsWanted(batch);
        var values = new OrtValue[tensors.Length];
        try
        {
            for (var i = 0; i < tensors.Length; i++)
            {
                values[i] = tensors[i].ToOrtValue();
            }

            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, _inputNames, values, wanted.Select(o => Outputs[o].Name).ToArray());
            var perRequest = new List<InferTensor>[batch.Count];
            for (var r = 0; r < batch.Count; r++)
            {
                perRequest[r] = new List<InferTensor>(wanted.Count);
            }

            var index = 0;
            foreach (var o in wanted)
            {
                var output = Outputs[o];
                var full = TensorData.FromOrtValue(results[index++], Name, output.Name);
                Split(o, full, batch, rows, perRequest);
            }

            return (perRequest.Select(p => p.ToArray()).ToArray(), efficiency);
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }
        }
    }

    /// <summary>Per model input, the batch's tensor: the requests back to back along the batch axis, each padded axis as
    /// long as its longest request, the rest filled with the input's pad value.</summary>
    private (TensorData[] Tensors, double Efficiency) Assemble(IReadOnlyList<PreparedRequest> batch, long rows)
    {
        var tensors = new TensorData[Inputs.Count];
        long real = 0, sent = 0;
        for (var i = 0; i < Inputs.Count; i++)
        {
            var input = Inputs[i];
            var first = batch[0].Inputs[i];
            if (batch.Count == 1)
            {
                tensors[i] = first;
                continue;
            }

            var shape = (long[])first.Shape.Clone();
            shape[0] = rows;
            for (var axis = 1; axis < shape.Length; axis++)
            {
                if (input.Padded[axis])
                {
                    foreach (var request in batch)
                    {
                        shape[axis] = Math.Max(shape[axis], request.Inputs[i].Shape[axis]);
                    }
                }
            }

            var tensor = TensorData.Filled(input.Type, shape, input.PadValue);
            long offset = 0;
            foreach (var request in batch)
            {
                request.Inputs[i].CopyInto(tensor, offset);
                offset += request.Rows;
                if (input.IsPadded)
                {
                    real += request.Inputs[i].Length;
                }
            }

            if (input.IsPadded)
            {
                sent += tensor.Length;
            }

            tensors[i] = tensor;
        }

        return (tensors, sent == 0 ? 1 : (double)real / sent);
    }

    /// <summary>Indexes of the outputs any request of the batch asked for, in the model's order; all when one asked for all.</summary>
    private List<int> OutputsWanted(IReadOnlyList<PreparedRequest> batch)
    {
        var wanted = new List<int>(Outputs.Count);
        for (var o = 0; o < Outputs.Count; o++)
        {
            foreach (var request in batch)
            {
                if (request.Wants(o))
                {
                    wanted.Add(o);
                    break;
                }
            }
        }

        return wanted;
    }

    private void Split(int o, TensorData full, IReadOnlyList<PreparedRequest> batch, long rows, List<InferTensor>[] perRequest)
    {
        var output = Outputs[o];
        if (BatchMode != BatchMode.Dynamic)
        {
            perRequest[0].Add(full.ToInferTensor(output.Name));
            return;
        }

        if (full.Shape.Length == 0 || full.Shape[0] != rows)
        {
            throw new ModelNotSupportedException(
                $"Model '{Name}' output '{output.Name}' has shape {ShapeMath.Text(full.Shape)}; its first dimension must be the batch ({rows}).");
        }

        long offset = 0;
        for (var r = 0; r < batch.Count; r++)
        {
            var request = batch[r];
            if (request.Wants(o))
            {
                if (batch.Count == 1)
                {
                    perRequest[r].Add(full.ToInferTensor(output.Name));
                }
                else
                {
                    var shape = (long[])full.Shape.Clone();
                    shape[0] = request.Rows;
                    for (var axis = 1; axis < shape.Length && axis < output.FollowsPaddedAxis.Length; axis++)
                    {
                        if (output.FollowsPaddedAxis[axis] is var (input, inputAxis))
                        {
                            shape[axis] = Math.Min(shape[axis], request.Inputs[input].Shape[inputAxis]);
                        }
                    }

                    perRequest[r].Add(full.Slice(offset, shape).ToInferTensor(output.Name));
                }
            }

            offset += request.Rows;
        }
    }

    public void Dispose() => _session.Dispose();
}
