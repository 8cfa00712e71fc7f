using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace AIaaS.Queue.Workers.Training;

/// <summary>Builds the command line of the training child. The compatibility launcher sets its library path for the
/// child alone; the worker's own environment is never changed.</summary>
internal sealed class TrainingChildLauncher(IOptions<TrainingOptions> options)
{
    private const string ChildFileName = "AIaaS.Queue.Training.dll";

    // Resolved at every start, not once: the compatibility runtime or the child may be set up while the worker runs
    // (the quickstart sets the runtime up on first use), and a few file checks cost nothing next to starting a process.
    public string Description => Resolve(options.Value).Description;

    public ProcessStartInfo CreateStartInfo(IEnumerable<string> childArguments)
    {
        var (launcher, child, _) = Resolve(options.Value);
        if (child is null)
        {
            throw new FileNotFoundException(
                $"The training program ({ChildFileName}) was not found: set Training:ChildAssembly, or build src/Training.");
        }

        var start = new ProcessStartInfo(launcher)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(child)!,
        };
        foreach (var argument in options.Value.LauncherArguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add(child);
        foreach (var argument in childArguments)
        {
            start.ArgumentList.Add(argument);
        }

        // A library path inherited from whoever started the worker must not leak into the child's loader either.
        start.Environment.Remove("LD_LIBRARY_PATH");
        return start;
    }

    private static (string Launcher, string? Child, string Description) Resolve(TrainingOptions options)
    {
        var child = FindChild(options.ChildAssembly);
        if (!string.IsNullOrWhiteSpace(options.Launcher))
        {
            return (options.Launcher, child, $"{options.Launcher} (configured)");
        }

        var compatRoot = options.CompatRoot
            ?? Environment.GetEnvironmentVariable("AIAAS_TORCH_COMPAT")
            ?? Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache
                ? cache
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "aiaas-queue", "torch-compat");
        var compat = Path.Combine(compatRoot, "run");
        return File.Exists(compat)
            ? (compat, child, $"{compat} (compatibility runtime)")
            : ("dotnet", child, "dotnet (host runtime)");
    }

    private static string? FindChild(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        }

        var beside = Path.Combine(AppContext.BaseDirectory, "training", ChildFileName);
        if (File.Exists(beside))
        {
            return beside;
        }

        // A development checkout: src/Training/bin/<configuration>/net10.0, the worker's own configuration first.
        var configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { configuration, configuration == "Release" ? "Debug" : "Release" })
            {
                var path = Path.Combine(dir.FullName, "src", "Training", "bin", candidate, "net10.0", ChildFileName);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }
}
