using System.Diagnostics.CodeAnalysis;

namespace AIaaS.Queue.Contracts;

/// <summary>The Open Inference Protocol's tensor datatypes, by their wire names.</summary>
[SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "The protocol's own names.")]
public static class TensorDatatypes
{
    public const string Bool = "BOOL", UInt8 = "UINT8", UInt16 = "UINT16", UInt32 = "UINT32", UInt64 = "UINT64",
        Int8 = "INT8", Int16 = "INT16", Int32 = "INT32", Int64 = "INT64",
        Fp16 = "FP16", Fp32 = "FP32", Fp64 = "FP64", Bf16 = "BF16", Bytes = "BYTES";

    /// <summary>Every datatype the protocol names, in its order.</summary>
    public static IReadOnlyList<string> All { get; } =
        [Bool, UInt8, UInt16, UInt32, UInt64, Int8, Int16, Int32, Int64, Fp16, Fp32, Fp64, Bf16, Bytes];
}
