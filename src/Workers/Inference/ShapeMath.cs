namespace AIaaS.Queue.Workers.Inference;

/// <summary>Row-major index arithmetic for padding requests into a batch and cutting their outputs back out.</summary>
internal static class ShapeMath
{
    public static long Count(IReadOnlyList<long> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            count = checked(count * d);
        }

        return count;
    }

    public static string Text(IReadOnlyList<long> shape) => $"[{string.Join(", ", shape)}]";

    /// <summary>
    /// Copies between a block and the larger tensor that holds it at <c>[rowOffset, 0, 0, ...]</c>: block to tensor when
    /// <paramref name="sourceToTarget"/>, tensor to block otherwise. Both have the same rank and the block fits on every
    /// axis. Copies whole runs of the innermost axis at a time.
    /// </summary>
    public static void CopyBlock(Array block, long[] blockShape, Array tensor, long[] tensorShape, long rowOffset, bool sourceToTarget)
    {
        var rank = blockShape.Length;
        if (rank == 0)
        {
            Copy(block, 0, tensor, 0, 1, sourceToTarget);
            return;
        }

        var run = blockShape[rank - 1];
        var count = Count(blockShape);
        if (count == 0)
        {
            return;
        }

        var strides = new long[rank];
        strides[rank - 1] = 1;
        for (var d = rank - 2; d >= 0; d--)
        {
            strides[d] = strides[d + 1] * tensorShape[d + 1];
        }

        if (rank == 1)
        {
            Copy(block, 0, tensor, rowOffset, run, sourceToTarget);
            return;
        }

        var index = new long[rank - 1];
        for (long blockOffset = 0; blockOffset < count; blockOffset += run)
        {
            var tensorOffset = rowOffset * strides[0];
            for (var d = 0; d < rank - 1; d++)
            {
                tensorOffset += index[d] * strides[d];
            }

            Copy(block, blockOffset, tensor, tensorOffset, run, sourceToTarget);
            for (var d = rank - 2; d >= 0; d--)
            {
                if (++index[d] < blockShape[d])
                {
                    break;
                }

                index[d] = 0;
            }
        }
    }

    private static void Copy(Array block, long blockOffset, Array tensor, long tensorOffset, long length, bool blockToTensor)
    {
        if (blockToTensor)
        {
            Array.Copy(block, blockOffset, tensor, tensorOffset, length);
        }
        else
        {
            Array.Copy(tensor, tensorOffset, block, blockOffset, length);
        }
    }
}
