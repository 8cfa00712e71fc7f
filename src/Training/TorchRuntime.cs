using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using TorchSharp;

namespace AIaaS.Queue.Training;

/// <summary>The native TorchSharp library could not be loaded; the message says why, naming the missing symbol version.</summary>
internal sealed class TorchUnavailableException(string message, Exception inner) : Exception(message, inner);

internal static partial class TorchRuntime
{
    /// <summary>Loads TorchSharp's native libraries or explains, from the loader's own error, why they do not load.</summary>
    public static void EnsureLoaded()
    {
        try
        {
            torch.InitializeDeviceType(DeviceType.CPU);
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or NotSupportedException or InvalidOperationException)
        {
            throw new TorchUnavailableException(Diagnose(), ex);
        }
    }

    private static string Diagnose()
    {
        // TorchSharp's own message blames a missing package; the dynamic loader knows the real cause.
        var native = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        var loaderError = "";
        if (File.Exists(native))
        {
            try
            {
                NativeLibrary.Free(NativeLibrary.Load(native));
            }
            catch (DllNotFoundException ex)
            {
                loaderError = ex.Message;
            }
        }

        var symbol = GlibcxxVersion().Match(loaderError);
        if (symbol.Success)
        {
            return $"TorchSharp cannot load: libLibTorchSharp.so needs {symbol.Value} (GCC 13's libstdc++), which this host's libstdc++ "
                + "does not have (Debian 12 has GLIBCXX_3.4.30). Run scripts/setup-torch-compat.sh on this machine; workers then start "
                + $"training through its launcher. Loader: {loaderError}";
        }

        return "TorchSharp cannot load its native library"
            + (loaderError.Length > 0 ? $": {loaderError}" : " (libtorch not found next to the training program).");
    }

    [GeneratedRegex(@"(GLIBCXX|GLIBC|CXXABI)_[0-9.]+")]
    private static partial Regex GlibcxxVersion();
}
