using System.Globalization;
using System.Text.Json;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;
using AIaaS.Queue.Onnx;
using AIaaS.Queue.Producer;
using AIaaS.Queue.Store;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>A worker with small input bounds, so that requests past them are cheap to make.</summary>
public sealed class SmallInputBoundsSystem : DistributedSystem
{
    public const int MaxInputValues = 200;
    public const int MaxInputBytes = 200;

    protected override IReadOnlyDictionary<string, string> WorkerSettings => new Dictionary<string, string>
    {
        ["Workers__MaxInputValues"] = MaxInputValues.ToString(CultureInfo.InvariantCulture),
        ["Workers__MaxInputBytes"] = MaxInputBytes.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// Typed tensors through the real system (issue 12, items 1 and 4): from the SDK through RabbitMQ to a worker process and
/// back over HTTP, every Open Inference Protocol datatype, several typed inputs and outputs, requested outputs and each
/// batch mode, compared with ONNX Runtime run directly on the same input; and bad input, each failing its own job with a
/// reason that names the problem while good jobs beside it succeed and the worker goes on.
/// </summary>
public sealed class TensorTypesTests(SmallInputBoundsSystem system) : IClassFixture<SmallInputBoundsSystem>
{
    public static TheoryData<string> Datatypes() => new(TensorDatatypes.All);

    [Theory]
    [MemberData(nameof(Datatypes))]
    public async Task EveryDatatypeRoundTripsExactlyThroughAnIdentityModel(string datatype)
    {
        var ct = TestTimeout.After(120);
        var type = OnnxTypes.ElementType(datatype)!.Value;
        var onnx = OnnxGraphs.Identity(type, ["batch", "n"]);
        var name = await RegisterAsync("id-" + datatype.ToLowerInvariant(), onnx, null, ct);
        var values = TypedTensors.Sample(type);
        long[] shape = [2, 3];
        var direct = TypedTensors.Run(onnx, new Dictionary<string, (Array, long[])> { ["input"] = (values, shape) })["output"];

        var result = await system.Client.PredictAsync(new PredictRequest { Model = name, Inputs = [Input("input", type, shape, values)] }, ct);

        var output = Assert.Single(result.Outputs).Value;
        Assert.Equal(("output", datatype), (output.Name, output.Datatype));
        Assert.Equal(direct.Shape, output.Shape);
        Assert.Equal(Wire(direct.Values), Read(output, type));
        Assert.Equal(Wire(values), Read(output, type));
    }

    [Fact]
    public async Task RequestsOfSeveralRowsShareModelCallsAndGetTheirOwnRowsOfEveryTypedOutput()
    {
        var ct = TestTimeout.After(120);
        var onnx = OnnxGraphs.IdsAndFeatures();
        var name = await RegisterAsync("mixed", onnx, new BatchingSettings { MaxBatchSize = 16, MaxQueueDelayMilliseconds = 300 }, ct);
        var random = new Random(12);
        // Requests of 4 ids per row batch together whatever their row counts; those of 2 ids run in calls of their own.
        var records = new (int Rows, int N)[] { (3, 4), (1, 4), (2, 4), (3, 4), (1, 2), (2, 2), (1, 4) }
            .Select(r => (Shape: r, Ids: RandomIds(random, r.Rows * r.N), Features: RandomFloats(random, r.Rows * 3)))
            .ToList();
        var requests = records.Select((r, i) => new PredictRequest
        {
            Model = name,
            Inputs =
            [
                Tensors.Int64(OnnxGraphs.Ids, [r.Shape.Rows, r.Shape.N], r.Ids),
                // One request gives its features nested by row, as OIP clients may.
                i == 2 ? Nested(OnnxGraphs.Features, r.Features, r.Shape.Rows, 3) : Tensors.Fp32(OnnxGraphs.Features, [r.Shape.Rows, 3], r.Features),
            ],
        }).ToList();

        var ids = await system.Client.SubmitPredictManyAsync(requests, ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        Assert.Contains(jobs, j => j.BatchSize > 1);
        for (var i = 0; i < records.Count; i++)
        {
            var (rows, n) = records[i].Shape;
            var direct = TypedTensors.Run(onnx, new Dictionary<string, (Array, long[])>
            {
                [OnnxGraphs.Ids] = (records[i].Ids, [rows, n]),
                [OnnxGraphs.Features] = (records[i].Features, [rows, 3]),
            });
            var outputs = (await system.Client.GetOutputAsync(ids[i], ct)).Outputs;
            Assert.Equal([OnnxGraphs.IdsPlusOne, OnnxGraphs.Scaled], outputs.Select(o => o.Name).Order(StringComparer.Ordinal));

            var plusOne = outputs.Named(OnnxGraphs.IdsPlusOne);
            Assert.Equal(TensorDatatypes.Int64, plusOne.Datatype);
            Assert.Equal([rows, n], plusOne.Shape);
            Assert.Equal((long[])direct[OnnxGraphs.IdsPlusOne].Values, plusOne.ToArray<long>());

            var scaled = outputs.Named(OnnxGraphs.Scaled);
            Assert.Equal(TensorDatatypes.Fp32, scaled.Datatype);
            Assert.Equal([rows, 3], scaled.Shape);
            Assert.Equal((float[])direct[OnnxGraphs.Scaled].Values, scaled.ToFloats());
        }
    }

    [Fact]
    public async Task OnlyTheRequestedOutputsAreStored()
    {
        var ct = TestTimeout.After(120);
        var onnx = OnnxGraphs.IdsAndFeatures();
        var name = await RegisterAsync("outs", onnx, new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 300 }, ct);
        string[]?[] asked = [[OnnxGraphs.Scaled], [OnnxGraphs.IdsPlusOne], null, [OnnxGraphs.Scaled, OnnxGraphs.IdsPlusOne]];
        long[] ids = [4, 5];
        float[] features = [1f, -2f, 0.25f];
        var direct = TypedTensors.Run(onnx, new Dictionary<string, (Array, long[])>
        {
            [OnnxGraphs.Ids] = (ids, [1, 2]),
            [OnnxGraphs.Features] = (features, [1, 3]),
        });

        // Submitted together so that requests asking for different outputs share a model call.
        var jobIds = await system.Client.SubmitPredictManyAsync(asked.Select(outputs => new PredictRequest
        {
            Model = name,
            Inputs = [Tensors.Int64(OnnxGraphs.Ids, [1, 2], ids), Tensors.Fp32(OnnxGraphs.Features, [1, 3], features)],
            Outputs = outputs,
        }), ct);
        var jobs = await Task.WhenAll(jobIds.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal(JobStatus.Succeeded, j.Status));
        for (var i = 0; i < asked.Length; i++)
        {
            var stored = (await system.Client.GetOutputAsync(jobIds[i], ct)).Outputs;
            var expected = asked[i] ?? [OnnxGraphs.IdsPlusOne, OnnxGraphs.Scaled];
            Assert.Equal(expected.Order(StringComparer.Ordinal), stored.Select(o => o.Name).Order(StringComparer.Ordinal));
            foreach (var output in stored)
            {
                Assert.Equal(Wire(direct[output.Name].Values), Read(output, direct[output.Name].Type));
            }
        }
    }

    [Fact]
    public async Task AModelWithoutABatchDimensionIsServedOneRequestPerCall()
    {
        var ct = TestTimeout.After(120);
        var batching = new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 200 };
        var vector = await RegisterAsync("nobatch", OnnxGraphs.Identity(TensorElementType.Float, [3]), batching, ct);
        var scalar = await RegisterAsync("scalar", OnnxGraphs.Identity(TensorElementType.Int64, []), batching, ct);
        var vectors = Enumerable.Range(0, 5).Select(i => new[] { i, i + 0.5f, -i }).ToArray();
        var scalars = Enumerable.Range(0, 5).Select(i => new[] { long.MaxValue - i }).ToArray();

        var ids = await system.Client.SubmitPredictManyAsync(
            vectors.Select(v => new PredictRequest { Model = vector, Inputs = [Tensors.Fp32("input", [3], v)] })
                .Concat(scalars.Select(s => new PredictRequest { Model = scalar, Inputs = [Tensors.Int64("input", [], s)] })), ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs, j => Assert.Equal((JobStatus.Succeeded, (int?)1), (j.Status, j.BatchSize)));
        Assert.Equal(jobs.Length, jobs.Select(j => j.BatchId).Distinct().Count());
        for (var i = 0; i < 5; i++)
        {
            var one = (await system.Client.GetOutputAsync(ids[i], ct)).Outputs.Named("output");
            Assert.Equal(TensorDatatypes.Fp32, one.Datatype);
            Assert.Equal([3], one.Shape);
            Assert.Equal(vectors[i], one.ToFloats());
            var single = (await system.Client.GetOutputAsync(ids[5 + i], ct)).Outputs.Named("output");
            Assert.Equal(TensorDatatypes.Int64, single.Datatype);
            Assert.Empty(single.Shape!);
            Assert.Equal(scalars[i], single.ToArray<long>());
        }
    }

    [Fact]
    public async Task AModelWithBatchFixedAtOneIsServedOneRequestPerCall()
    {
        var ct = TestTimeout.After(120);
        var name = await RegisterAsync("fixed1", OnnxGraphs.Identity(TensorElementType.Float, [1, 4]),
            new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 200 }, ct);
        var random = new Random(3);
        var records = Enumerable.Range(0, 6).Select(_ => RandomFloats(random, 4)).ToArray();

        var ids = await system.Client.SubmitPredictManyAsync(
            records.Select(r => new PredictRequest { Model = name, Inputs = [Tensors.Fp32("input", [1, 4], r)] })
                .Append(new PredictRequest { Model = name, Inputs = [Tensors.Fp32("input", [2, 4], new float[8])] }), ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs[..6], j => Assert.Equal((JobStatus.Succeeded, (int?)1), (j.Status, j.BatchSize)));
        Assert.Equal(6, jobs[..6].Select(j => j.BatchId).Distinct().Count());
        for (var i = 0; i < records.Length; i++)
        {
            var output = (await system.Client.GetOutputAsync(ids[i], ct)).Outputs.Named("output");
            Assert.Equal([1, 4], output.Shape);
            Assert.Equal(records[i], output.ToFloats());
        }

        Assert.Equal(JobStatus.Failed, jobs[6].Status);
        Assert.Contains("axis 0 must be 1", jobs[6].Error, StringComparison.Ordinal);
    }

    /// <summary>Over HTTP, as users register models: the view says how requests will be merged.</summary>
    [Fact]
    public async Task RegistrationReportsHowEachModelIsBatched()
    {
        var ct = TestTimeout.After(120);
        (byte[] Onnx, BatchMode Mode)[] models =
        [
            (OnnxGraphs.Identity(TensorElementType.Float, ["batch", 4]), BatchMode.Dynamic),
            (OnnxGraphs.IdsAndFeatures(), BatchMode.Dynamic),
            (OnnxGraphs.Identity(TensorElementType.Float, [1, 4]), BatchMode.FixedOne),
            (OnnxGraphs.Identity(TensorElementType.Float, [3]), BatchMode.None),
            (OnnxGraphs.Identity(TensorElementType.Int64, []), BatchMode.None),
        ];

        var failures = new List<string>();
        foreach (var (onnx, mode) in models)
        {
            var name = TestModels.UniqueName("mode");
            try
            {
                var view = await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), cancellationToken: ct);
                var listed = (await system.Client.ListModelsAsync(ct)).Single(m => m.Name == name);
                if ((view.BatchMode, listed.BatchMode) != (mode, mode))
                {
                    failures.Add($"{Describe(onnx)}: registration says {view.BatchMode}, the list {listed.BatchMode}; expected {mode}.");
                }
            }
            catch (AiaasApiException ex)
            {
                failures.Add($"{Describe(onnx)}: refused ({(int)ex.StatusCode}): {ex.Detail}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task BadInputFailsOnlyItsOwnJobWithAReasonThatNamesTheProblem()
    {
        var ct = TestTimeout.After(180);
        var sequence = await RegisterAsync("seq", OnnxGraphs.Identity(TensorElementType.Int64, ["batch", "sequence"]), new BatchingSettings
        {
            MaxBatchSize = 4,
            MaxQueueDelayMilliseconds = 50,
            Inputs = new Dictionary<string, InputBatching> { ["input"] = new() { MaxShape = [-1, 8] } },
        }, ct);
        var int8 = await RegisterAsync("int8", OnnxGraphs.Identity(TensorElementType.Int8, ["batch", 2]), null, ct);
        var text = await RegisterAsync("text", OnnxGraphs.Identity(TensorElementType.String, ["batch"]), null, ct);
        var mixed = await RegisterAsync("mixed", OnnxGraphs.IdsAndFeatures(), null, ct);

        var goodMixed = new[] { Tensors.Int64(OnnxGraphs.Ids, [1, 2], [1, 2]), Tensors.Fp32(OnnxGraphs.Features, [1, 3], [1f, 2f, 3f]) };
        PredictRequest[] good =
        [
            new() { Model = sequence, Inputs = [Tensors.Int64("input", [2, 8], [.. Enumerable.Range(0, 16).Select(i => (long)i)])] },
            new() { Model = int8, Inputs = [Tensors.Create("input", TensorDatatypes.Int8, [1, 2], new sbyte[] { -128, 127 })] },
            new() { Model = text, Inputs = [Tensors.Bytes("input", [2], ["é", "ok"])] },
            new() { Model = mixed, Inputs = goodMixed, Outputs = [OnnxGraphs.Scaled] },
        ];
        (PredictRequest Request, string Reason)[] bad =
        [
            (Ask(sequence, Tensors.Fp32("input", [1, 2], [1f, 2f])), "Input 'input' is INT64; the request gives FP32"),
            (Ask(sequence, Raw("input", "FP8", [1, 1], "[1]")), "datatype 'FP8', which is not one of"),
            (Ask(sequence, Raw("input", TensorDatatypes.Int64, [1, 2], "[1, 3.5]")), "the value 3.5 at index 1 is not an integer"),
            (Ask(sequence, Raw("input", TensorDatatypes.Int64, [1, 2], "[\"x\", 2]")), "the value \"x\" at index 0 is not an integer"),
            (Ask(int8, Raw("input", TensorDatatypes.Int8, [1, 2], "[1, 300]")), "the value 300 at index 1 is out of range for INT8 (-128 to 127)"),
            (Ask(sequence, Tensors.Int64("input", [1, 3], [1, 2])), "has 2 values; its shape needs 3"),
            (Ask(sequence, Tensors.Int64("input", [4], [1, 2, 3, 4])), "rank 1; the model takes rank 2"),
            (Ask(mixed, Tensors.Int64(OnnxGraphs.Ids, [1, 2], [1, 2]), Tensors.Fp32(OnnxGraphs.Features, [1, 4], [1f, 2f, 3f, 4f])),
                "Input 'features' has shape [1, 4]; the model takes [-1, 3]: axis 1 must be 3"),
            (Ask(sequence, Tensors.Int64("input", [1, 9], new long[9])), "axis 1 (sequence) is 9, above its maximum of 8"),
            (Ask(sequence, Tensors.Int64("input", [1, SmallInputBoundsSystem.MaxInputValues + 1], new long[SmallInputBoundsSystem.MaxInputValues + 1])),
                $"{SmallInputBoundsSystem.MaxInputValues + 1} input values; at most {SmallInputBoundsSystem.MaxInputValues} are accepted"),
            // 101 characters, 202 bytes: the bound is on UTF-8 bytes.
            (Ask(text, Tensors.Bytes("input", [1], [new string('é', 101)])), $"more than {SmallInputBoundsSystem.MaxInputBytes} bytes of BYTES data"),
            (Ask(mixed, Tensors.Int64(OnnxGraphs.Ids, [1, 2], [1, 2])), "Input 'features' is missing"),
            (Ask(mixed, [.. goodMixed, Tensors.Fp32("nope", [1, 1], [1f])]), "has no input 'nope'"),
            (new PredictRequest { Model = mixed, Inputs = goodMixed, Outputs = ["nope"] }, "has no output 'nope'"),
            (Ask(sequence, Tensors.Int64("input", [5, 2], new long[10])), "holds 5 rows along the batch dimension; model"),
            (Ask(sequence, Tensors.Int64("input", [0, 2], [])), "axis 0 must be at least 1"),
            (Ask(sequence, Tensors.Int64("input", [1, -2], [])), "axis 1 must be 0 or more"),
            // Its element count overflows a long: refused as too large, not by an arithmetic exception.
            (Ask(int8, Tensors.Create("input", TensorDatatypes.Int8, [long.MaxValue, 2], new sbyte[2])),
                $"{long.MaxValue} values; at most {SmallInputBoundsSystem.MaxInputValues} are accepted"),
            (Ask(sequence, Raw("input", TensorDatatypes.Int64, [1, 1], "\"1\"")), "data must be a JSON array"),
            (Ask(sequence, Tensors.Int64("input", [1, 1], [1]), Tensors.Int64("input", [1, 1], [2])), "Input 'input' is given twice"),
            // Without a shape only the plain float list of earlier versions is read.
            (Ask(sequence, new InferTensor { Name = "input", Datatype = TensorDatatypes.Int64, Data = JsonSerializer.Deserialize<JsonElement>("[1, 2]") }),
                "give it in the tensor form"),
        ];

        // The bad ones in among the good ones, all at once, so that they reach the worker while good jobs are being batched.
        var requests = good.Concat(bad.Select(b => b.Request)).Concat(good).ToList();
        var ids = await system.Client.SubmitPredictManyAsync(requests, ct);
        var jobs = await Task.WhenAll(ids.Select(id => system.Client.WaitForCompletionAsync(id, ct)));

        Assert.All(jobs[..good.Length].Concat(jobs[^good.Length..]), j => Assert.Equal(JobStatus.Succeeded, j.Status));
        var wrong = new List<string>();
        for (var i = 0; i < bad.Length; i++)
        {
            var job = jobs[good.Length + i];
            if (job.Status != JobStatus.Failed || job.Error?.Contains(bad[i].Reason, StringComparison.Ordinal) != true || job.BatchId is not null)
            {
                wrong.Add($"[{i}] expected failed before running with \"{bad[i].Reason}\"; got {job.Status}, batch {job.BatchId ?? "none"}: {job.Error}");
            }
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        var after = await system.Client.PredictAsync(good[0], ct);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), after.Outputs.Named("output").ToArray<long>());
        Assert.False(system.Workers[0].HasExited, "A bad job must never take the worker down.");
    }

    [Theory]
    [InlineData(TensorDatatypes.UInt8, "-1", "is out of range for UINT8 (0 to 255)")]
    [InlineData(TensorDatatypes.UInt8, "256", "is out of range for UINT8 (0 to 255)")]
    [InlineData(TensorDatatypes.UInt16, "-1", "is out of range for UINT16 (0 to 65535)")]
    [InlineData(TensorDatatypes.UInt16, "65536", "is out of range for UINT16 (0 to 65535)")]
    [InlineData(TensorDatatypes.UInt32, "-1", "is out of range for UINT32 (0 to 4294967295)")]
    [InlineData(TensorDatatypes.UInt32, "4294967296", "is out of range for UINT32 (0 to 4294967295)")]
    [InlineData(TensorDatatypes.UInt64, "-1", "is not an integer from 0 to 18446744073709551615 (UINT64)")]
    [InlineData(TensorDatatypes.UInt64, "18446744073709551616", "is not an integer from 0 to 18446744073709551615 (UINT64)")]
    [InlineData(TensorDatatypes.Int8, "-129", "is out of range for INT8 (-128 to 127)")]
    [InlineData(TensorDatatypes.Int16, "32768", "is out of range for INT16 (-32768 to 32767)")]
    [InlineData(TensorDatatypes.Int32, "-2147483649", "is out of range for INT32 (-2147483648 to 2147483647)")]
    [InlineData(TensorDatatypes.Int64, "9223372036854775808", "is out of range for INT64")]
    [InlineData(TensorDatatypes.Int32, "1.5", "is not an integer")]
    [InlineData(TensorDatatypes.Fp16, "65520", "does not fit FP16")]
    [InlineData(TensorDatatypes.Fp32, "1e39", "does not fit FP32")]
    [InlineData(TensorDatatypes.Fp64, "\"NaN\"", "non-finite value (NaN)")]
    [InlineData(TensorDatatypes.Bool, "1", "is not true or false (BOOL)")]
    [InlineData(TensorDatatypes.Bytes, "1", "is not a string (BYTES)")]
    public async Task AValueOutsideItsDatatypeFailsItsJob(string datatype, string value, string reason)
    {
        var ct = TestTimeout.After(120);
        var name = await RegisterAsync("range", OnnxGraphs.Identity(OnnxTypes.ElementType(datatype)!.Value, ["batch"]), null, ct);

        var job = await WaitBoundedAsync(await system.Client.SubmitPredictAsync(Ask(name, Raw("input", datatype, [1], $"[{value}]")), ct), ct);

        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Contains(reason, job.Error, StringComparison.Ordinal);
        Assert.Contains("at index 0", job.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AModelCallThatFailsOnOneRequestFailsThatJobAloneOrInABatch()
    {
        var ct = TestTimeout.After(180);
        var onnx = OnnxGraphs.Embedding(vocabulary: 4, width: 2);
        var name = await RegisterAsync("embed", onnx, new BatchingSettings { MaxBatchSize = 8, MaxQueueDelayMilliseconds = 300 }, ct);
        // Id 4 is beyond the vocabulary: every check before the model passes, and ONNX Runtime refuses it in the call.
        long[][] records = [[0, 1], [2, 3], [0, 4], [3, -4], [1, 1]];

        var ids = await system.Client.SubmitPredictManyAsync(records.Select(r => Ask(name, Tensors.Int64(OnnxGraphs.Ids, [1, 2], r))), ct);
        var jobs = await Task.WhenAll(ids.Select(id => WaitBoundedAsync(id, ct)));

        for (var i = 0; i < records.Length; i++)
        {
            if (i == 2)
            {
                Assert.Equal(JobStatus.Failed, jobs[i].Status);
                Assert.Contains($"Model '{name}' v1 failed on this input", jobs[i].Error, StringComparison.Ordinal);
                continue;
            }

            Assert.Equal(JobStatus.Succeeded, jobs[i].Status);
            var direct = TypedTensors.Run(onnx, new Dictionary<string, (Array, long[])> { [OnnxGraphs.Ids] = (records[i], [1, 2]) })[OnnxGraphs.Vectors];
            var vectors = (await system.Client.GetOutputAsync(ids[i], ct)).Outputs.Named(OnnxGraphs.Vectors);
            Assert.Equal([1, 2, 2], vectors.Shape);
            Assert.Equal((float[])direct.Values, vectors.ToFloats());
        }

        // Alone, so that the failing call is a batch of one.
        var alone = await WaitBoundedAsync(await system.Client.SubmitPredictAsync(Ask(name, Tensors.Int64(OnnxGraphs.Ids, [1, 1], [7])), ct), ct);
        Assert.Equal(JobStatus.Failed, alone.Status);
        Assert.Contains($"Model '{name}' v1 failed on this input", alone.Error, StringComparison.Ordinal);
        Assert.Equal(JobStatus.Succeeded, (await system.Client.PredictAsync(Ask(name, Tensors.Int64(OnnxGraphs.Ids, [1, 1], [3])), ct)).Job.Status);
    }

    /// <summary>Waits for the job to end, but says in which state it was left rather than waiting out the test's time when
    /// it never ends (a job whose message is retried and dead-lettered stays queued).</summary>
    private async Task<JobView> WaitBoundedAsync(Guid id, CancellationToken ct)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeSpan.FromSeconds(45));
        try
        {
            return await system.Client.WaitForCompletionAsync(id, limit.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            var job = await system.Client.GetJobAsync(id, ct);
            var log = system.Workers[0].Output;
            Assert.Fail($"Job {id} did not end within 45 s; it is {job?.Status.ToString() ?? "unknown"}. The worker's log ends:\n{log[Math.Max(0, log.Length - 3000)..]}");
            throw;
        }
    }

    /// <summary>
    /// Registers <paramref name="onnx"/> over HTTP with the SDK, as users do, and checks what the registration reports.
    /// Settings per input (<see cref="BatchingSettings.Inputs"/>: a maximum shape) do not travel over HTTP yet (the SDK
    /// sends the batch size and delay only), so a model that needs them has its record written through the store, as the
    /// model API writes it.
    /// </summary>
    private async Task<string> RegisterAsync(string prefix, byte[] onnx, BatchingSettings? batching, CancellationToken ct)
    {
        var name = TestModels.UniqueName(prefix);
        var signature = OnnxModelInspector.Inspect(onnx);
        if (batching?.Inputs is null)
        {
            var view = await system.Client.RegisterModelAsync(name, new MemoryStream(onnx), batching, cancellationToken: ct);
            Assert.Equal(signature.BatchMode, view.BatchMode);
            Assert.Equal(signature.Inputs.Select(i => (i.Name, i.Datatype)), view.Inputs.Select(i => (i.Name, i.Datatype)));
            return name;
        }

        await system.ApiServices.GetRequiredService<IModelStore>().AddVersionAsync(new NewModelVersion
        {
            Name = name,
            Inputs = signature.Inputs,
            Outputs = signature.Outputs,
            Batching = batching,
        }, new MemoryStream(onnx), ct);
        return name;
    }

    private static PredictRequest Ask(string model, params InferTensor[] inputs) => new() { Model = model, Inputs = inputs };

    /// <summary>A tensor whose data is written as given, for values no typed array can hold.</summary>
    private static InferTensor Raw(string name, string datatype, long[] shape, string json) =>
        new() { Name = name, Datatype = datatype, Shape = shape, Data = JsonSerializer.Deserialize<JsonElement>(json) };

    private static InferTensor Nested(string name, float[] values, int rows, int columns) => new()
    {
        Name = name,
        Datatype = TensorDatatypes.Fp32,
        Shape = [rows, columns],
        Data = JsonSerializer.SerializeToElement(values.Chunk(columns).ToArray(), WireJson.Options),
    };

    private static string Describe(byte[] onnx)
    {
        var input = OnnxModelInspector.Inspect(onnx).Inputs[0];
        return $"{input.Datatype} [{string.Join(", ", input.Shape)}]";
    }

    private static long[] RandomIds(Random random, int count) => [.. Enumerable.Range(0, count).Select(_ => random.NextInt64(-1000, 30000))];

    private static float[] RandomFloats(Random random, int count) => [.. Enumerable.Range(0, count).Select(_ => (random.NextSingle() * 8) - 4)];

    /// <summary>The request tensor for <paramref name="values"/>, built with the SDK's helpers as a user would; FP16 and BF16
    /// travel as the numbers they hold.</summary>
    private static InferTensor Input(string name, TensorElementType type, long[] shape, Array values) => type switch
    {
        TensorElementType.Bool => Tensors.Bool(name, shape, (bool[])values),
        TensorElementType.UInt8 => Tensors.UInt8(name, shape, (byte[])values),
        TensorElementType.UInt16 => Tensors.Create(name, TensorDatatypes.UInt16, shape, (ushort[])values),
        TensorElementType.UInt32 => Tensors.Create(name, TensorDatatypes.UInt32, shape, (uint[])values),
        TensorElementType.UInt64 => Tensors.Create(name, TensorDatatypes.UInt64, shape, (ulong[])values),
        TensorElementType.Int8 => Tensors.Create(name, TensorDatatypes.Int8, shape, (sbyte[])values),
        TensorElementType.Int16 => Tensors.Create(name, TensorDatatypes.Int16, shape, (short[])values),
        TensorElementType.Int32 => Tensors.Int32(name, shape, (int[])values),
        TensorElementType.Int64 => Tensors.Int64(name, shape, (long[])values),
        TensorElementType.Float16 => Tensors.Create(name, TensorDatatypes.Fp16, shape, Array.ConvertAll((Float16[])values, v => (float)v)),
        TensorElementType.Float => Tensors.Fp32(name, shape, (float[])values),
        TensorElementType.Double => Tensors.Fp64(name, shape, (double[])values),
        TensorElementType.BFloat16 => Tensors.Create(name, TensorDatatypes.Bf16, shape, Array.ConvertAll((BFloat16[])values, v => (float)v)),
        TensorElementType.String => Tensors.Bytes(name, shape, (string[])values),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>Typed values as the protocol carries them: FP16 and BF16 widened to the floats they are exactly.</summary>
    private static object[] Wire(Array values) => values switch
    {
        Float16[] halves => [.. halves.Select(v => (object)(float)v)],
        BFloat16[] brains => [.. brains.Select(v => (object)(float)v)],
        _ => [.. values.Cast<object>()],
    };

    /// <summary>An output's values read with the SDK as the CLR type of its element type (UINT8 through int: a byte[] is
    /// base64 in JSON).</summary>
    private static object[] Read(InferTensor output, TensorElementType type) => type switch
    {
        TensorElementType.Bool => Boxed(output.ToArray<bool>()),
        TensorElementType.UInt8 => Boxed(Array.ConvertAll(output.ToArray<int>(), v => checked((byte)v))),
        TensorElementType.UInt16 => Boxed(output.ToArray<ushort>()),
        TensorElementType.UInt32 => Boxed(output.ToArray<uint>()),
        TensorElementType.UInt64 => Boxed(output.ToArray<ulong>()),
        TensorElementType.Int8 => Boxed(output.ToArray<sbyte>()),
        TensorElementType.Int16 => Boxed(output.ToArray<short>()),
        TensorElementType.Int32 => Boxed(output.ToArray<int>()),
        TensorElementType.Int64 => Boxed(output.ToArray<long>()),
        TensorElementType.Float16 or TensorElementType.Float or TensorElementType.BFloat16 => Boxed(output.ToFloats()),
        TensorElementType.Double => Boxed(output.ToArray<double>()),
        TensorElementType.String => Boxed(output.ToArray<string>()),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static object[] Boxed<T>(T[] values) => [.. values.Select(v => (object)v!)];
}
