namespace AIaaS.Queue.Workers.Inference;

/// <summary>The job names a model or version that is not registered.</summary>
public sealed class ModelNotFoundException(string message) : Exception(message);

/// <summary>The model file cannot be served (unsupported inputs or outputs, or ONNX Runtime cannot load it).</summary>
public sealed class ModelNotSupportedException(string message, Exception? inner = null) : Exception(message, inner);
