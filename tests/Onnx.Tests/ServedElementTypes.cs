using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Onnx.Tests;

/// <summary>Every element type the Open Inference Protocol names, as theory data.</summary>
internal static class ServedElementTypes
{
    public static TheoryData<TensorElementType> All()
    {
        var data = new TheoryData<TensorElementType>();
        foreach (var datatype in TensorDatatypes.All)
        {
            data.Add(OnnxTypes.ElementType(datatype)!.Value);
        }

        return data;
    }

}
