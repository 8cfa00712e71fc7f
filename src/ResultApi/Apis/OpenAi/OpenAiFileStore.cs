using System.IO.Pipelines;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Store;

namespace AIaaS.Queue.ResultApi.Apis.OpenAi;

/// <summary>
/// OpenAI's files over the stored data files: a file uploaded as OpenAI's is a data file named
/// <c>openai:{purpose}:{filename}</c>, so the store keeps what OpenAI's file object shows without a table of its own; a data
/// file uploaded otherwise shows as purpose <c>user_data</c>. The files a batch makes for itself (its translated records,
/// its manifest, its refused lines) are data files of purpose <c>batch_input</c>, <c>batch_manifest</c> and <c>batch_errors</c>.
/// </summary>
public static class OpenAiFileStore
{
    public const string BatchPurpose = "batch";
    public const string BatchOutputPurpose = "batch_output";
    internal const string BatchInputPurpose = "batch_input";
    internal const string BatchManifestPurpose = "batch_manifest";
    internal const string BatchErrorsPurpose = "batch_errors";
    private const string Prefix = "openai:";

    public static string DatasetName(string purpose, string filename) => $"{Prefix}{purpose}:{filename}";

    /// <summary>The purpose and file name a data file's name holds.</summary>
    public static (string Purpose, string Filename) ReadName(string datasetName)
    {
        ArgumentNullException.ThrowIfNull(datasetName);
        if (datasetName.StartsWith(Prefix, StringComparison.Ordinal) && datasetName.IndexOf(':', Prefix.Length) is var colon and > 0)
        {
            return (datasetName[Prefix.Length..colon], datasetName[(colon + 1)..]);
        }

        return ("user_data", datasetName);
    }

    public static OpenAiFile ToOpenAi(this DatasetView dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var (purpose, filename) = ReadName(dataset.Name);
        return new OpenAiFile
        {
            Id = OpenAiIds.File(dataset.Id),
            Bytes = dataset.SizeBytes,
            CreatedAt = dataset.CreatedAt.ToUnixTimeSeconds(),
            Filename = filename,
            Purpose = purpose,
        };
    }

    /// <summary>Runs <paramref name="consume"/> over the lines <paramref name="produce"/> writes, through a pipe: a bulk job's
    /// results are read as they are copied out of the store, never held whole.</summary>
    public static async Task<T> ReadLinesAsync<T>(Func<Stream, Task> produce, Func<TextReader, Task<T>> consume)
    {
        ArgumentNullException.ThrowIfNull(produce);
        ArgumentNullException.ThrowIfNull(consume);
        var pipe = new Pipe();
        var producing = Task.Run(async () =>
        {
            try
            {
                await using var writer = pipe.Writer.AsStream(leaveOpen: true);
                await produce(writer);
                await pipe.Writer.CompleteAsync();
            }
            catch (Exception ex)
            {
                await pipe.Writer.CompleteAsync(ex);
            }
        });

        try
        {
            using var reader = new StreamReader(pipe.Reader.AsStream(leaveOpen: true));
            return await consume(reader);
        }
        finally
        {
            // Stops a producer the consumer left behind (it failed, or the client went away).
            await pipe.Reader.CompleteAsync();
            await producing;
        }
    }
}
