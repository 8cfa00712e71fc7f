using System.Globalization;
using AIaaS.Queue.Contracts;
using SkiaSharp;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// An image recipe's pre-processing for one record: decodes PNG, JPEG or WebP with Skia, refuses images above a pixel
/// limit before decoding them (the header gives the size, so a decompression bomb costs nothing), resizes to the model's
/// size and normalizes into one CHW float32 record (3 × height × width), RGB unless the recipe says BGR.
/// <list type="bullet">
/// <item><see cref="RecipeResize.Crop"/>: scaled so that it covers the target, the centre kept (torchvision's resize of the
/// shorter side and centre crop, in one step for non-square targets).</item>
/// <item><see cref="RecipeResize.Pad"/>: scaled so that it fits, placed top-left; the rest of the tensor is 0 after
/// normalization, as PaddleOCR's classifiers and recognizers pad.</item>
/// <item><see cref="RecipeResize.Stretch"/>: scaled to the target, the aspect ratio not kept.</item>
/// </list>
/// Pixel values are scaled to 0-1, then <c>(value - mean) / std</c> per channel. Alpha is dropped (a transparent pixel gives
/// the colour stored under it), and EXIF orientation is not applied: send upright images.
/// </summary>
internal static class ImagePreprocessor
{
    public const long DefaultMaxPixels = 40_000_000;

    private static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>Bilinear with mipmaps: smooth when shrinking a large photo to a model's few hundred pixels.</summary>
    private static readonly SKSamplingOptions Sampling = new(SKFilterMode.Linear, SKMipmapMode.Linear);

    /// <summary>Reads base64 (a <c>data:image/...;base64,</c> prefix is allowed), then as <see cref="Read"/>.</summary>
    public static (float[]? Chw, string? Error) ReadBase64(string? base64, ModelRecipe recipe, int width, int height)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            return (null, "The image is empty: give the image's bytes (PNG, JPEG or WebP), base64-encoded.");
        }

        var text = base64.AsSpan().Trim();
        if (text.StartsWith("data:", StringComparison.Ordinal) && text.IndexOf(',') is var comma and > 0)
        {
            text = text[(comma + 1)..];
        }

        var bytes = new byte[text.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64Chars(text, bytes, out var written))
        {
            return (null, "The image is not valid base64.");
        }

        return Read(bytes.AsSpan(0, written), recipe, width, height);
    }

    public static (float[]? Chw, string? Error) Read(ReadOnlySpan<byte> encoded, ModelRecipe recipe, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data);
        if (codec is null)
        {
            return (null, $"The image ({encoded.Length} bytes) could not be decoded: give PNG, JPEG or WebP bytes.");
        }

        var size = codec.Info;
        var pixels = (long)size.Width * size.Height;
        var maxPixels = recipe.MaxPixels ?? DefaultMaxPixels;
        if (pixels > maxPixels)
        {
            return (null, string.Create(CultureInfo.InvariantCulture,
                $"The image is {size.Width}x{size.Height}, {pixels} pixels; at most {maxPixels} are accepted."));
        }

        using var decoded = new SKBitmap(new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var result = codec.GetPixels(decoded.Info, decoded.GetPixels());
        if (result is not SKCodecResult.Success)
        {
            return (null, $"The image could not be decoded: {result}.");
        }

        var mode = recipe.Resize ?? RecipeResize.Crop;
        var (scaledWidth, scaledHeight) = ScaledSize(size.Width, size.Height, width, height, mode);
        using var scaled = decoded.Resize(new SKImageInfo(scaledWidth, scaledHeight, SKColorType.Rgba8888, SKAlphaType.Unpremul), Sampling);
        if (scaled is null)
        {
            return (null, "The image could not be resized.");
        }

        // Crop takes the centre of a scaled image at least the target's size; pad and stretch start at the top-left corner.
        var offsetX = mode == RecipeResize.Crop ? (scaledWidth - width) / 2 : 0;
        var offsetY = mode == RecipeResize.Crop ? (scaledHeight - height) / 2 : 0;
        return (Normalize(scaled, recipe, width, height, offsetX, offsetY), null);
    }

    private static (int Width, int Height) ScaledSize(int width, int height, int targetWidth, int targetHeight, string mode)
    {
        if (mode == RecipeResize.Stretch)
        {
            return (targetWidth, targetHeight);
        }

        var scaleX = (double)targetWidth / width;
        var scaleY = (double)targetHeight / height;
        var scale = mode == RecipeResize.Crop ? Math.Max(scaleX, scaleY) : Math.Min(scaleX, scaleY);
        var scaledWidth = Math.Clamp((int)Math.Round(width * scale), 1, mode == RecipeResize.Crop ? int.MaxValue : targetWidth);
        var scaledHeight = Math.Clamp((int)Math.Round(height * scale), 1, mode == RecipeResize.Crop ? int.MaxValue : targetHeight);
        return (Math.Max(scaledWidth, mode == RecipeResize.Crop ? targetWidth : 1), Math.Max(scaledHeight, mode == RecipeResize.Crop ? targetHeight : 1));
    }

    /// <summary>The target window of <paramref name="image"/> at the offset, as CHW floats; outside the image (pad), 0.</summary>
    private static float[] Normalize(SKBitmap image, ModelRecipe recipe, int width, int height, int offsetX, int offsetY)
    {
        var mean = recipe.Mean ?? ImageNetMean;
        var std = recipe.Std ?? ImageNetStd;
        var bgr = recipe.Bgr ?? false;
        var plane = width * height;
        var chw = new float[3 * plane];
        var pixels = image.GetPixelSpan();
        var rowBytes = image.RowBytes;
        var rows = Math.Min(height, image.Height - offsetY);
        var columns = Math.Min(width, image.Width - offsetX);
        for (var y = 0; y < rows; y++)
        {
            var row = pixels.Slice((y + offsetY) * rowBytes + offsetX * 4, columns * 4);
            for (var x = 0; x < columns; x++)
            {
                for (var c = 0; c < 3; c++)
                {
                    var value = row[x * 4 + c] / 255f;
                    var channel = bgr ? 2 - c : c;
                    chw[channel * plane + y * width + x] = (value - mean[c]) / std[c];
                }
            }
        }

        return chw;
    }
}
