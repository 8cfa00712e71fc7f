using System.Text;

namespace AIaaS.Queue.Onnx.Tests;

public sealed class OnnxModelInspectorTests
{
    [Fact]
    public void InspectReportsFloat32InputAndOutputWithDynamicBatch()
    {
        var model = TestModels.ByName["4-16-3 relu softmax"]();

        var signature = OnnxModelInspector.Inspect(OnnxModelWriter.Write(model));

        var input = Assert.Single(signature.Inputs);
        Assert.Equal(("input", "float32"), (input.Name, input.ElementType));
        Assert.Equal([-1, 4], input.Shape);
        var output = Assert.Single(signature.Outputs);
        Assert.Equal(("output", "float32"), (output.Name, output.ElementType));
        Assert.Equal([-1, 3], output.Shape);
    }

    [Fact]
    public void InspectReadsAModelFile()
    {
        var model = TestModels.ByName["8-32-32-1 relu sigmoid"]();
        var path = Path.Combine(Path.GetTempPath(), $"mlp-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var file = File.Create(path))
            {
                OnnxModelWriter.Write(model, file);
            }

            var signature = OnnxModelInspector.Inspect(path);

            Assert.Equal([-1, 8], Assert.Single(signature.Inputs).Shape);
            Assert.Equal([-1, 1], Assert.Single(signature.Outputs).Shape);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void InspectDoesNotReportInitializersAsInputs()
    {
        var model = TestModels.ByName["6-12-12-5 tanh none"]();

        var signature = OnnxModelInspector.Inspect(OnnxModelWriter.Write(model));

        Assert.Equal(["input"], signature.Inputs.Select(i => i.Name));
    }

    [Fact]
    public void InspectRejectsGarbageBytesWithReadableMessage()
    {
        var garbage = Encoding.UTF8.GetBytes("this is not an onnx model, just some text");

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModelInspector.Inspect(garbage));

        Assert.StartsWith("Not a valid ONNX model: ", ex.Message, StringComparison.Ordinal);
        Assert.True(ex.Message.Length > "Not a valid ONNX model: ".Length, "The message should carry ONNX Runtime's reason.");
        Assert.NotNull(ex.InnerException);
    }

    [Fact]
    public void InspectRejectsEmptyBytes()
    {
        Assert.Throws<InvalidModelException>(() => OnnxModelInspector.Inspect(Array.Empty<byte>()));
    }

    [Fact]
    public void InspectRejectsTruncatedModel()
    {
        var bytes = OnnxModelWriter.Write(TestModels.ByName["4-16-3 relu softmax"]());

        Assert.Throws<InvalidModelException>(() => OnnxModelInspector.Inspect(bytes[..(bytes.Length / 2)]));
    }

    [Fact]
    public void InspectOfMissingFileThrowsFileNotFound()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.onnx");

        Assert.Throws<FileNotFoundException>(() => OnnxModelInspector.Inspect(path));
    }

    // Issue 13, finding 2: the review's 254-byte model, which ONNX Runtime folds into 2.5e8 floats (1 GB) at the workers'
    // optimization level. Refused from the file alone, before anything loads it: the check must not take the memory itself.
    [Fact]
    public void AModelThatFoldsIntoAGigabyteIsRefusedBeforeAnythingLoadsIt()
    {
        var onnx = AIaaS.Queue.Onnx.OnnxGraphs.FoldsIntoAHugeConstant(250_000_000);
        Assert.True(onnx.Length < 300, $"{onnx.Length} bytes");
        var refused = Assert.Throws<InvalidModelException>(() => OnnxModelInspector.Inspect(onnx));
        Assert.Contains("fold its constants", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AModelThatFoldsIntoLittleLoadsAsTheWorkersLoadIt() =>
        Assert.Equal("output", Assert.Single(OnnxModelInspector.Inspect(AIaaS.Queue.Onnx.OnnxGraphs.FoldsIntoAHugeConstant(1000)).Outputs).Name);
}
