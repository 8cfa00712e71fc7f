using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Workers.Inference;

/// <summary>Creates ONNX Runtime sessions on the best device present: CUDA when the GPU build finds one, CPU otherwise.</summary>
internal sealed class OnnxSessionFactory(IOptions<WorkerOptions> options, ILogger<OnnxSessionFactory> logger)
{
    private const string CudaProvider = "CUDAExecutionProvider";
    private readonly Lazy<bool> _cudaAvailable = new(() =>
        OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider, StringComparer.Ordinal));

    public (InferenceSession Session, string Device) Create(string modelPath)
    {
        if (options.Value.PreferCuda && _cudaAvailable.Value)
        {
            var cudaOptions = CreateOptions();
            try
            {
                cudaOptions.AppendExecutionProvider_CUDA(0);
                return (new InferenceSession(modelPath, cudaOptions), "cuda:0");
            }
            catch (OnnxRuntimeException ex)
            {
                // The provider is built in but no usable GPU or driver is there: serve on CPU rather than not at all.
                logger.LogWarning(ex, "CUDA execution provider could not start; falling back to CPU");
            }
            finally
            {
                cudaOptions.Dispose();
            }
        }

        using var cpuOptions = CreateOptions();
        return (new InferenceSession(modelPath, cpuOptions), "cpu");
    }

    private SessionOptions CreateOptions()
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = Onnx.OnnxModelInspector.ServingOptimization,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (options.Value.IntraOpThreads > 0)
        {
            sessionOptions.IntraOpNumThreads = options.Value.IntraOpThreads;
        }

        return sessionOptions;
    }
}
