using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Recipes;
using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// One model version loaded into a shared <see cref="InferenceSession"/>, which ONNX Runtime lets many threads run at once.
/// Runs a batch of prepared requests as one model call: merged along the batch axis, padded where the registration allows,
/// and each output cut back to each request's own rows and lengths. A version registered with a recipe also holds the
/// recipe's runner, which turns text or images into its inputs and its outputs into answers.
/// </summary>
internal sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;

    public LoadedModel(string name, int version, InferenceSession session, string device, BatchingSettings batching,
        ModelRecipe? recipe = null, string? vocabulary = null, ModelTrainingInfo? training = null,
        ExplanationBackground? background = null)
    {
        Name = name;
        Training = training;
        Background = background;
        Version = version;
        _session = session;
        Device = device;

        var firstDims = session.InputNames.Select(i => session.InputMetadata[i].Dimensions).ToArray();
        BatchMode = firstDims.Length == 0 || firstDims.Any(d => d.Length == 0) ? BatchMode.None
            : firstDims.All(d => d[0] < 0) ? BatchMode.Dynamic
            : firstDims.All(d => d[0] == 1) ? BatchMode.FixedOne
            : BatchMode.None;

        batching = RecipePadding.Apply(batching, recipe, session.InputMetadata);
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
        ResponseCache = batching.ResponseCache ?? false;
        Recipe = recipe is null ? null : RecipeRunner.Create(this, recipe, vocabulary);
        _labeler = recipe is null ? ClassLabeler.For(training, Outputs) : null;
    }

    private readonly ClassLabeler? _labeler;

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

    /// <summary>Jobs with the inputs of a recent job of the same tenant are answered from the worker's response cache.</summary>
    public bool ResponseCache { get; }

    /// <summary>The registered recipe's runner; null for a version that takes tensors only.</summary>
    public RecipeRunner? Recipe { get; }

    /// <summary>How a trained version came about (its feature and class names); null for uploaded ones.</summary>
    public ModelTrainingInfo? Training { get; }

    /// <summary>The rows explanations of this version average over; null when it has none.</summary>
    public ExplanationBackground? Background { get; }

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

        return new ModelOutput(output, follows)
        {
            Type = meta.ElementDataType,
            Dims = meta.Dimensions.Select(d => d < 0 ? -1L : d).ToArray(),
        };
    }

    /// <summary>Runs <paramref name="batch"/> in one model call. Returns, per request, the model outputs it asked for (typed,
    /// before any recipe), and the padding efficiency: real elements over elements sent, across the padded inputs (1 when
    /// nothing was padded).</summary>
    public (NamedTensor[][] Outputs, double PaddingEfficiency) Run(IReadOnlyList<PreparedRequest> batch)
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
            var perRequest = new List<NamedTensor>[batch.Count];
            for (var r = 0; r < batch.Count; r++)
            {
                perRequest[r] = new List<NamedTensor>(wanted.Count);
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

    /// <summary>What a request's job answers: the recipe's outputs for a request the recipe prepared (throws
    /// <see cref="RecipeException"/> with the reason when they cannot be made); a trained classifier's outputs with the
    /// predicted class's name (<see cref="ClassLabeler"/>); else the model outputs as they are.</summary>
    public NamedTensor[] Answer(PreparedRequest request, NamedTensor[] outputs) =>
        request.Recipe is { } record && Recipe is { } runner ? runner.Finish(outputs, record)
        : _labeler is { } labeler ? labeler.Label(outputs)
        : outputs;

    private void Split(int o, TensorData full, IReadOnlyList<PreparedRequest> batch, long rows, List<NamedTensor>[] perRequest)
    {
        var output = Outputs[o];
        if (BatchMode != BatchMode.Dynamic)
        {
            perRequest[0].Add(new NamedTensor(output.Name, full));
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
                    perRequest[r].Add(new NamedTensor(output.Name, full));
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

                    perRequest[r].Add(new NamedTensor(output.Name, full.Slice(offset, shape)));
                }
            }

            offset += request.Rows;
        }
    }

    public void Dispose() => _session.Dispose();
}
