using System.Text.Json;
using System.Text.Json.Serialization;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Store.Tests;

/// <summary>Output tensors for store tests, and an exact comparison (floats bit for bit, NaN included).</summary>
internal static class TestTensors
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static InferTensor Fp32(string name, long[] shape, float[] data) => Of(name, TensorDatatypes.Fp32, shape, data);

    public static InferTensor Of<T>(string name, string datatype, long[] shape, T[] data) => new()
    {
        Name = name,
        Datatype = datatype,
        Shape = shape,
        Data = JsonSerializer.SerializeToElement(data, Json),
    };

    public static void AssertSame(InferTensor expected, InferTensor actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Datatype, actual.Datatype);
        Assert.Equal(expected.Shape, actual.Shape);
        if (expected.Datatype == TensorDatatypes.Fp32)
        {
            Assert.Equal(expected.Data.Deserialize<float[]>(Json)!.Select(BitConverter.SingleToInt32Bits),
                actual.Data.Deserialize<float[]>(Json)!.Select(BitConverter.SingleToInt32Bits));
        }
        else
        {
            Assert.Equal(expected.Data.GetRawText(), actual.Data.GetRawText());
        }
    }
}
