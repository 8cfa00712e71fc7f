using System.Text.Json;
using AIaaS.Queue.Domain;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Tests;

/// <summary>Padding requests into a batch tensor and cutting their blocks back out, and reading JSON data by type.</summary>
public sealed class TensorDataTests
{
    [Fact]
    public void BlocksPaddedIntoABatchComeBackOutUnchanged()
    {
        // Two requests of 1 and 2 rows, sequence 2 and 3, hidden 2: a batch of 3 rows × 3 × 2, padded with -1.
        var a = new TensorData(TensorElementType.Int64, [1, 2, 2], new long[] { 1, 2, 3, 4 });
        var b = new TensorData(TensorElementType.Int64, [2, 3, 2], Enumerable.Range(10, 12).Select(i => (long)i).ToArray());
        var batch = TensorData.Filled(TensorElementType.Int64, [3, 3, 2], padValue: -1);

        a.CopyInto(batch, rowOffset: 0);
        b.CopyInto(batch, rowOffset: 1);

        Assert.Equal(new long[] { 1, 2, 3, 4, -1, -1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21 }, (long[])batch.Values);
        Assert.Equal((long[])a.Values, (long[])batch.Slice(0, [1, 2, 2]).Values);
        Assert.Equal((long[])b.Values, (long[])batch.Slice(1, [2, 3, 2]).Values);
    }

    [Fact]
    public void StringsPadWithTheEmptyStringAndTravelAsJsonStrings()
    {
        var batch = TensorData.Filled(TensorElementType.String, [2, 2], padValue: 7);
        string[] text = ["naïve"];
        new TensorData(TensorElementType.String, [1, 1], text).CopyInto(batch, 1);

        var tensor = batch.ToInferTensor("text");

        Assert.Equal("BYTES", tensor.Datatype);
        Assert.Equal("""["","","naïve",""]""", tensor.Data.GetRawText().Replace("\\u00EF", "ï", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("INT64", "[1, 3.5]", "the value 3.5 at index 1 is not an integer")]
    [InlineData("INT64", "[\"x\"]", "the value \"x\" at index 0 is not an integer")]
    [InlineData("INT8", "[127, 128]", "the value 128 at index 1 is out of range for INT8 (-128 to 127)")]
    [InlineData("UINT8", "[-1]", "the value -1 at index 0 is out of range for UINT8 (0 to 255)")]
    [InlineData("BOOL", "[true, 1]", "the value 1 at index 1 is not true or false (BOOL)")]
    [InlineData("BYTES", "[\"a\", 2]", "the value 2 at index 1 is not a string (BYTES)")]
    [InlineData("FP32", "[1e39]", "the value 1e39 at index 0 does not fit FP32")]
    [InlineData("FP16", "[70000]", "the value 70000 at index 0 does not fit FP16")]
    [InlineData("FP32", "[\"NaN\"]", "has a non-finite value (NaN) at index 0")]
    public void ValuesThatDoNotFitTheDatatypeAreRefusedWithTheirIndex(string datatype, string json, string reason)
    {
        var type = Onnx.OnnxTypes.ElementType(datatype)!.Value;
        using var data = JsonDocument.Parse(json);
        var count = TensorElements.Count(data.RootElement);

        var (values, error) = TensorJson.Read(data.RootElement, type, count, "x", maxStringBytes: 1024);

        Assert.Null(values);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void NestedDataReadsRowMajorAndExtremesSurvive()
    {
        using var data = JsonDocument.Parse("[[-9223372036854775808, 0], [9223372036854775807, 42]]");

        var (values, error) = TensorJson.Read(data.RootElement, TensorElementType.Int64, 4, "x", 1024);

        Assert.Null(error);
        Assert.Equal(new[] { long.MinValue, 0, long.MaxValue, 42 }, (long[])values!);
    }
}
