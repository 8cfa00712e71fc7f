using System.Text;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Workers.Bulk;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime;
using SkiaSharp;
using static AIaaS.Queue.Workers.Tests.Recipes.TextRecipeTests;

namespace AIaaS.Queue.Workers.Tests.Recipes;

/// <summary>Bulk files for versions with a recipe: text and image records read, carried in chunks (text as its token ids)
/// and scored into the recipe's outputs, bad records into error lines in file order.</summary>
public sealed class BulkRecipeRecordsTests
{
    private static readonly InputLimits Limits = new(1_000_000, 1 << 20);

    private static BulkChunk.Contents Split(LoadedModel model, string file)
    {
        using var reader = BulkRecordReader.Open(new MemoryStream(Encoding.UTF8.GetBytes(file)), null, model, Limits);
        Assert.Equal(BulkChunk.RecipeRecords, reader.ValuesPerRecord);
        using var writer = new BulkChunk.Writer(reader.ValuesPerRecord);
        while (reader.TryRead([], out var record))
        {
            writer.Add(record, []);
        }

        return BulkChunk.Read(writer.ToPayload().ToArray(), BulkChunk.ValuesPerRecordFor(model));
    }

    private static List<JsonNode> Lines(ReadOnlyMemory<byte> written) =>
        [.. Encoding.UTF8.GetString(written.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!)];

    [Fact]
    public void JsonLinesOfTextAreTokenizedOnceAndScoredIntoEmbeddings()
    {
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextEmbedding });
        var chunk = Split(model, """
            {"id":"a","text":"hello"}
            {"id":"b","text":"  "}
            {"custom_id":7,"text":"hello world world playing","meta":{"x":1}}
            {"id":"c","image":"AAAA"}
            {"id":"d","features":[1,2]}
            {"id":"e"}
            """);

        Assert.Equal([2, 5, 3], chunk.Records[0].Recipe!.Ids!);
        var result = BulkChunkScorer.Score(model, chunk, batchSize: 8, Limits);

        Assert.Equal((2, 4), (result.Succeeded, result.Failed));
        var output = Lines(result.Output);
        Assert.Equal(["a", "7"], output.Select(o => (string)o["id"]!));
        var embedding = output[1]["outputs"]![0]!;
        Assert.Equal("embedding", (string?)embedding["name"]);
        Assert.Equal("FP32", (string?)embedding["datatype"]);
        Assert.Equal(43.0 / 7, (double)embedding["data"]![0]!, 1e-5);
        Assert.Equal(7L, (long)output[1]["outputs"]![1]!["data"]![0]!);
        var errors = Lines(result.Errors);
        Assert.Equal(["b", "c", "d", "e"], errors.Select(e => (string)e["id"]!));
        Assert.Equal("Text is empty; give the text to encode.", (string?)errors[0]["error"]);
        Assert.Equal("Model 'encoder' takes text (its recipe is text-embedding), not an image.", (string?)errors[1]["error"]);
        Assert.Equal("Model 'encoder' takes text records (its recipe is text-embedding), not tensors.", (string?)errors[2]["error"]);
        Assert.Equal("The record has no \"text\"; model 'encoder' takes text records (its recipe is text-embedding).", (string?)errors[3]["error"]);
    }

    [Fact]
    public void CsvWithATextColumnIsRead()
    {
        using var model = Encoder(new ModelRecipe { Kind = RecipeKinds.TextEmbedding });
        var chunk = Split(model, "id,text,source\nr1,\"hello, world\",web\nr2,,web\n,hello,x\n");

        Assert.Equal(["r1", "r2", "4"], chunk.Records.Select(r => r.Id));
        Assert.Equal([2, 5, 1, 6, 3], chunk.Records[0].Recipe!.Ids!); // the comma is [UNK] to the tiny vocabulary
        Assert.Equal("Text is empty; give the text to encode.", chunk.Records[1].Error);
        Assert.Throws<InvalidBulkFileException>(() => Split(model, "id,body\nr1,hello\n"));
    }

    [Fact]
    public void ImageRecordsTravelAsBytesAndFailAloneWhenUndecodable()
    {
        using var model = new LoadedModel("colours", 1, new InferenceSession(OnnxGraphs.ChannelMeans()), "cpu", new BatchingSettings { MaxBatchSize = 4 },
            new ModelRecipe { Kind = RecipeKinds.ImageClassification, Labels = ["red", "green", "blue"], Width = 8, Height = 4 });
        var png = ImageRecipeTests.Png(SKColors.Blue);
        var chunk = Split(model, $$"""
            {"id":"ok","image":"data:image/png;base64,{{png}}"}
            {"id":"junk","image":"AAAA"}
            {"id":"nope","image":"%%%"}
            {"id":"text","text":"hello"}
            """);

        var result = BulkChunkScorer.Score(model, chunk, batchSize: 4, Limits);

        var output = Assert.Single(Lines(result.Output));
        Assert.Equal("blue", (string?)output["outputs"]![0]!["data"]![0]);
        Assert.Equal(["junk", "nope", "text"], Lines(result.Errors).Select(e => (string)e["id"]!));
        Assert.StartsWith("The image (3 bytes) could not be decoded", (string?)Lines(result.Errors)[0]["error"], StringComparison.Ordinal);
        Assert.Equal("\"image\" is not valid base64.", (string?)Lines(result.Errors)[1]["error"]);
        var csv = Assert.Throws<InvalidBulkFileException>(() => Split(model, "id,text\nr1,hello\n"));
        Assert.StartsWith("CSV carries text; model 'colours' takes images", csv.Message, StringComparison.Ordinal);
    }
}
