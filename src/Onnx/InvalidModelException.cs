namespace AIaaS.Queue.Onnx;

/// <summary>The bytes or file given are not a model ONNX Runtime can load; the message says why.</summary>
public sealed class InvalidModelException : Exception
{
    public InvalidModelException()
        : base("Not a valid ONNX model.")
    {
    }

    public InvalidModelException(string message)
        : base(message)
    {
    }

    public InvalidModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
