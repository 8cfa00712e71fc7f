using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Recipes;
using SkiaSharp;

namespace AIaaS.Queue.Workers.Tests.Recipes;

public sealed class ImagePreprocessorTests
{
    private static readonly ModelRecipe Plain = new()
    {
        Kind = RecipeKinds.ImageClassification,
        Resize = RecipeResize.Stretch,
        Mean = [0, 0, 0],
        Std = [1, 1, 1],
    };

    [Fact]
    public void PixelsBecomeChannelPlanesScaledToOneThenNormalizedPerChannel()
    {
        // Two pixels: pure red and a grey of 51 (0.2). Same size as the target, so no resampling.
        var png = Encode(Image(2, 1, (x, _) => x == 0 ? new SKColor(255, 0, 0) : new SKColor(51, 51, 51)), SKEncodedImageFormat.Png);
        var recipe = Plain with { Mean = [0.5f, 0.1f, 0.2f], Std = [0.5f, 0.5f, 0.25f] };

        var (chw, error) = ImagePreprocessor.Read(png, recipe, 2, 1);

        Assert.Null(error);
        // R plane, G plane, B plane; each (value - mean) / std.
        AssertClose([1f, -0.6f, -0.2f, 0.2f, -0.8f, 0f], chw!);
    }

    [Fact]
    public void BgrSwapsTheFirstAndLastPlanes()
    {
        var png = Encode(Image(1, 1, (_, _) => new SKColor(255, 0, 0)), SKEncodedImageFormat.Png);

        var (chw, _) = ImagePreprocessor.Read(png, Plain with { Bgr = true }, 1, 1);

        AssertClose([0f, 0f, 1f], chw!);
    }

    [Fact]
    public void CropCoversTheTargetAndKeepsTheCentre()
    {
        // 40x10: a red quarter, a green middle half, a blue quarter. Covering 10x10 keeps the middle: green.
        var png = Encode(Image(40, 10, (x, _) => x < 10 ? SKColors.Red : x < 30 ? new SKColor(0, 255, 0) : SKColors.Blue), SKEncodedImageFormat.Png);

        var (chw, error) = ImagePreprocessor.Read(png, Plain with { Resize = RecipeResize.Crop }, 10, 10);

        Assert.Null(error);
        var plane = 100;
        Assert.All(chw![..plane], r => Assert.InRange(r, 0f, 0.02f));
        Assert.All(chw[plane..(2 * plane)], g => Assert.InRange(g, 0.98f, 1f));
        Assert.All(chw[(2 * plane)..], b => Assert.InRange(b, 0f, 0.02f));
    }

    [Fact]
    public void PadFitsTheImageTopLeftAndLeavesZerosAfterNormalization()
    {
        // 20x10 white into 20x20: the top half is the image, the bottom half 0 however mean and std are set.
        var png = Encode(Image(20, 10, (_, _) => SKColors.White), SKEncodedImageFormat.Png);
        var recipe = Plain with { Resize = RecipeResize.Pad, Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f] };

        var (chw, error) = ImagePreprocessor.Read(png, recipe, 20, 20);

        Assert.Null(error);
        for (var c = 0; c < 3; c++)
        {
            Assert.All(chw!.AsSpan(c * 400, 200).ToArray(), v => Assert.Equal(1f, v, 1e-5f));
            Assert.All(chw.AsSpan(c * 400 + 200, 200).ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    [InlineData(SKEncodedImageFormat.Webp)]
    public void JpegAndWebpDecode(SKEncodedImageFormat format)
    {
        var bytes = Encode(Image(8, 8, (_, _) => new SKColor(200, 100, 50)), format);

        var (chw, error) = ImagePreprocessor.ReadBase64(Convert.ToBase64String(bytes), Plain, 4, 4);

        Assert.Null(error);
        Assert.Equal(48, chw!.Length);
        Assert.Equal(200 / 255f, chw[0], 0.05f);
        Assert.Equal(50 / 255f, chw[47], 0.05f);
    }

    [Fact]
    public void ADataUrlPrefixIsAccepted()
    {
        var png = Encode(Image(1, 1, (_, _) => SKColors.White), SKEncodedImageFormat.Png);

        var (_, error) = ImagePreprocessor.ReadBase64("data:image/png;base64," + Convert.ToBase64String(png), Plain, 1, 1);

        Assert.Null(error);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("not base64 at all!", "not valid base64")]
    [InlineData("aGVsbG8gd29ybGQ=", "could not be decoded")] // "hello world"
    public void BadImagesAreRefusedWithTheReason(string base64, string reason)
    {
        var (chw, error) = ImagePreprocessor.ReadBase64(base64, Plain, 4, 4);

        Assert.Null(chw);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void AnImageAboveThePixelLimitIsRefusedFromItsHeader()
    {
        var png = Encode(Image(100, 50, (_, _) => SKColors.White), SKEncodedImageFormat.Png);

        var (chw, error) = ImagePreprocessor.Read(png, Plain with { MaxPixels = 4_999 }, 4, 4);

        Assert.Null(chw);
        Assert.Equal("The image is 100x50, 5000 pixels; at most 4999 are accepted.", error);
    }

    [Fact]
    public void SoftmaxSumsToOneAndSurvivesLargeLogits()
    {
        var scores = ClassScores.Softmax([1000f, 1000f, 0f]);

        Assert.Equal(0.5f, scores[0], 1e-6f);
        Assert.Equal(0.5f, scores[1], 1e-6f);
        Assert.Equal(0f, scores[2], 1e-6f);
        AssertClose([0.0900306f, 0.2447285f, 0.6652409f], ClassScores.Softmax([1f, 2f, 3f]));
        AssertClose([0.5f, 0.7310586f], ClassScores.Sigmoid([0f, 1f]));
    }

    [Fact]
    public void TopKIsBestFirstWithTiesInIndexOrder()
    {
        Assert.Equal([3, 1, 2], ClassScores.TopK([0.1f, 0.3f, 0.3f, 0.9f], 3));
        Assert.Equal([1, 0], ClassScores.TopK([0.2f, 0.8f], 5));
        Assert.Empty(ClassScores.TopK([0.2f, 0.8f], 0));
    }

    private static SKBitmap Image(int width, int height, Func<int, int, SKColor> color)
    {
        var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                bitmap.SetPixel(x, y, color(x, y));
            }
        }

        return bitmap;
    }

    private static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format)
    {
        using (bitmap)
        {
            using var data = bitmap.Encode(format, 95);
            return data.ToArray();
        }
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-5, $"index {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}
