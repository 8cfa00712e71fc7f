using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>
/// Names the predicted class of a classifier this system trained: beside its probability output it answers <c>label</c>
/// (BYTES, one class name per row), from the class names stored with the version (<see cref="ModelTrainingInfo.ClassLabels"/>).
/// Multiclass: the class of the highest probability; binary (one probability per row, of the second class): the second
/// class at 0.5 or above.
/// </summary>
internal sealed class ClassLabeler(string output, string[] classes)
{
    public const string LabelOutput = "label";

    /// <summary>The labeler of a trained classifier's version, or null for any other model.</summary>
    public static ClassLabeler? For(ModelTrainingInfo? training, IReadOnlyList<ModelOutput> outputs) =>
        training is { Task: TrainingTask.MulticlassClassification or TrainingTask.BinaryClassification, ClassLabels: { Count: >= 2 } classes }
            && outputs.Count == 1 && outputs[0].Type == TensorElementType.Float && outputs[0].Name != LabelOutput
            ? new ClassLabeler(outputs[0].Name, [.. classes])
            : null;

    /// <summary>The outputs with <c>label</c> added after the probabilities (when the job asked for them).</summary>
    public NamedTensor[] Label(NamedTensor[] outputs)
    {
        var index = Array.FindIndex(outputs, o => o.Name == output);
        if (index < 0 || outputs[index].Tensor.Values is not float[] probabilities)
        {
            return outputs;
        }

        var shape = outputs[index].Tensor.Shape;
        var perRow = shape.Length == 0 ? 1 : (int)(probabilities.Length / Math.Max(1, shape[0]));
        var rows = perRow == 0 ? 0 : probabilities.Length / perRow;
        var names = new string[rows];
        for (var r = 0; r < rows; r++)
        {
            var row = probabilities.AsSpan(r * perRow, perRow);
            names[r] = perRow == 1 ? classes[row[0] >= 0.5f ? 1 : 0] : classes[Math.Min(classes.Length - 1, ArgMax(row))];
        }

        return [.. outputs, new NamedTensor(LabelOutput, new TensorData(TensorElementType.String, [rows], names))];
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
