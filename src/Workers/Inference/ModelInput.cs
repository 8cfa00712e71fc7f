using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>A float32 model input: the shape of one record (without the batch dimension) and its element count.</summary>
internal sealed record ModelInput(string Name, int[] RecordShape, int RecordLength, bool FixedBatchDimension)
{
    public string ShapeText => $"[-1, {string.Join(", ", RecordShape)}]";

    public static ModelInput From(string model, string name, NodeMetadata meta)
    {
        if (!meta.IsTensor || meta.ElementDataType != TensorElementType.Float)
        {
            throw new ModelNotSupportedException(
                $"Model '{model}' input '{name}' is {(meta.IsTensor ? meta.ElementDataType.ToString() : meta.OnnxValueType.ToString())}; only float32 tensor inputs are supported.");
        }

        var dims = meta.Dimensions;
        if (dims.Length < 2)
        {
            throw new ModelNotSupportedException(
                $"Model '{model}' input '{name}' has rank {dims.Length}; inputs need a batch dimension followed by the record's dimensions.");
        }

        var record = dims[1..];
        if (record.Any(d => d <= 0))
        {
            throw new ModelNotSupportedException(
                $"Model '{model}' input '{name}' has a dynamic dimension after the batch dimension ([{string.Join(", ", dims)}]); only the batch dimension may be dynamic.");
        }

        if (dims[0] > 1)
        {
            throw new ModelNotSupportedException(
                $"Model '{model}' input '{name}' has a fixed batch dimension of {dims[0]}; it must be dynamic or 1.");
        }

        return new ModelInput(name, record, record.Aggregate(1, (a, b) => checked(a * b)), dims[0] == 1);
    }
}
