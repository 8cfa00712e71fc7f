namespace AIaaS.Queue.Onnx;

/// <summary>A multilayer perceptron: dense layers applied in order, then an output activation.</summary>
public sealed class MlpModel
{
    /// <summary>Creates a model after checking that the layers chain and every array has the right length.</summary>
    /// <exception cref="ArgumentException">The layers or names do not describe a valid network.</exception>
    public MlpModel(
        IReadOnlyList<DenseLayer> layers,
        OutputActivation outputActivation,
        string inputName = "input",
        string outputName = "output")
    {
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("An MLP needs at least one dense layer.", nameof(layers));
        }

        if (!Enum.IsDefined(outputActivation))
        {
            throw new ArgumentException($"Unknown output activation {outputActivation}.", nameof(outputActivation));
        }

        if (string.IsNullOrWhiteSpace(inputName))
        {
            throw new ArgumentException("The input name must not be empty.", nameof(inputName));
        }

        if (string.IsNullOrWhiteSpace(outputName))
        {
            throw new ArgumentException("The output name must not be empty.", nameof(outputName));
        }

        if (inputName == outputName)
        {
            throw new ArgumentException($"Input and output must have different names; both are '{inputName}'.", nameof(outputName));
        }

        // A private copy, so a caller mutating its list cannot break the shape checks made here.
        var copy = layers.ToArray();
        for (var i = 0; i < copy.Length; i++)
        {
            if (LayerProblem(copy[i], i) is { } problem)
            {
                throw new ArgumentException(problem, nameof(layers));
            }

            if (i > 0 && copy[i].Inputs != copy[i - 1].Outputs)
            {
                throw new ArgumentException(
                    $"Layer {i} expects {copy[i].Inputs} inputs but layer {i - 1} produces {copy[i - 1].Outputs} outputs.",
                    nameof(layers));
            }
        }

        Layers = copy;
        OutputActivation = outputActivation;
        InputName = inputName;
        OutputName = outputName;
    }

    public int InputSize => Layers[0].Inputs;

    public int OutputSize => Layers[^1].Outputs;

    public IReadOnlyList<DenseLayer> Layers { get; }

    public OutputActivation OutputActivation { get; }

    public string InputName { get; }

    public string OutputName { get; }

    /// <summary>
    /// Deterministic random initialisation for demos and tests: He-uniform weights before ReLU,
    /// Glorot-uniform otherwise. Hidden layers use <paramref name="hiddenActivation"/>; the last layer
    /// has no activation of its own and is followed by <paramref name="outputActivation"/>.
    /// </summary>
    public static MlpModel CreateRandom(
        int inputSize,
        IReadOnlyList<int> hiddenSizes,
        int outputSize,
        Activation hiddenActivation,
        OutputActivation outputActivation,
        int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        if (hiddenSizes.Any(size => size <= 0))
        {
            throw new ArgumentException("Every hidden layer needs a positive size.", nameof(hiddenSizes));
        }

        // Random(seed) is a fixed algorithm, so a seed gives the same weights on every run and machine.
        var random = new Random(seed);
        var sizes = hiddenSizes.Prepend(inputSize).Append(outputSize).ToArray();
        var layers = new DenseLayer[sizes.Length - 1];
        for (var i = 0; i < layers.Length; i++)
        {
            var (fanIn, fanOut) = (sizes[i], sizes[i + 1]);
            var activation = i == layers.Length - 1 ? Activation.None : hiddenActivation;
            var limit = activation == Activation.Relu
                ? MathF.Sqrt(6f / fanIn)
                : MathF.Sqrt(6f / (fanIn + fanOut));
            var weights = new float[fanIn * fanOut];
            for (var w = 0; w < weights.Length; w++)
            {
                weights[w] = ((random.NextSingle() * 2f) - 1f) * limit;
            }

            // Small non-zero biases, unlike the usual zeros, so comparisons against a runtime cover the bias path.
            var bias = new float[fanOut];
            for (var b = 0; b < bias.Length; b++)
            {
                bias[b] = ((random.NextSingle() * 2f) - 1f) * 0.1f;
            }

            layers[i] = new DenseLayer(fanIn, fanOut, weights, bias, activation);
        }

        return new MlpModel(layers, outputActivation);
    }

    /// <summary>
    /// Reference forward pass in plain float arithmetic. <paramref name="batch"/> holds
    /// <paramref name="batchSize"/> rows of <see cref="InputSize"/> values; the result holds
    /// <paramref name="batchSize"/> rows of <see cref="OutputSize"/> values.
    /// </summary>
    public float[] Forward(ReadOnlySpan<float> batch, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batchSize);
        if (batch.Length != batchSize * InputSize)
        {
            throw new ArgumentException(
                $"Expected {batchSize} x {InputSize} = {batchSize * InputSize} values, got {batch.Length}.",
                nameof(batch));
        }

        var current = batch.ToArray();
        foreach (var layer in Layers)
        {
            current = Dense(layer, current, batchSize);
        }

        switch (OutputActivation)
        {
            case OutputActivation.Sigmoid:
                ApplyInPlace(current, Activation.Sigmoid);
                break;
            case OutputActivation.Softmax:
                SoftmaxRowsInPlace(current, OutputSize);
                break;
            default:
                break;
        }

        return current;
    }

    private static string? LayerProblem(DenseLayer? layer, int index)
    {
        if (layer is null)
        {
            return $"Layer {index} is null.";
        }

        if (layer.Inputs <= 0 || layer.Outputs <= 0)
        {
            return $"Layer {index} must have positive sizes, has {layer.Inputs} inputs and {layer.Outputs} outputs.";
        }

        if (layer.Weights is null || layer.Weights.Length != layer.Inputs * layer.Outputs)
        {
            return $"Layer {index} has {layer.Weights?.Length ?? 0} weights; expected Inputs * Outputs = "
                + $"{layer.Inputs} * {layer.Outputs} = {layer.Inputs * layer.Outputs}.";
        }

        if (layer.Bias is null || layer.Bias.Length != layer.Outputs)
        {
            return $"Layer {index} has {layer.Bias?.Length ?? 0} biases; expected one per output ({layer.Outputs}).";
        }

        return Enum.IsDefined(layer.Activation) ? null : $"Layer {index} has unknown activation {layer.Activation}.";
    }

    private static float[] Dense(DenseLayer layer, float[] input, int batchSize)
    {
        var (inputs, outputs) = (layer.Inputs, layer.Outputs);
        var result = new float[batchSize * outputs];
        for (var row = 0; row < batchSize; row++)
        {
            var x = input.AsSpan(row * inputs, inputs);
            var y = result.AsSpan(row * outputs, outputs);
            layer.Bias.CopyTo(y);
            for (var i = 0; i < inputs; i++)
            {
                var xi = x[i];
                var weightsRow = layer.Weights.AsSpan(i * outputs, outputs);
                for (var o = 0; o < outputs; o++)
                {
                    y[o] += xi * weightsRow[o];
                }
            }
        }

        ApplyInPlace(result, layer.Activation);
        return result;
    }

    private static void ApplyInPlace(Span<float> values, Activation activation)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = activation switch
            {
                Activation.Relu => MathF.Max(values[i], 0f),
                Activation.Sigmoid => 1f / (1f + MathF.Exp(-values[i])),
                Activation.Tanh => MathF.Tanh(values[i]),
                _ => values[i],
            };
        }
    }

    private static void SoftmaxRowsInPlace(Span<float> values, int rowLength)
    {
        for (var start = 0; start < values.Length; start += rowLength)
        {
            var row = values.Slice(start, rowLength);

            // Subtracting the row maximum keeps Exp from overflowing; the result is unchanged.
            var max = float.NegativeInfinity;
            foreach (var v in row)
            {
                max = MathF.Max(max, v);
            }

            var sum = 0f;
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = MathF.Exp(row[i] - max);
                sum += row[i];
            }

            for (var i = 0; i < row.Length; i++)
            {
                row[i] /= sum;
            }
        }
    }
}
