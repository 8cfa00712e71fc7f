using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// How a text recipe fills a BERT-family model's inputs for one record: <c>input_ids</c> (required), and
/// <c>attention_mask</c> (ones) and <c>token_type_ids</c> (zeros) where the model has them, each <c>[1, n]</c> in the
/// model's integer type. A model whose sequence axis is fixed gets every record filled to that length with [PAD] (0) and
/// mask 0; a dynamic one gets the record's own length, and the batcher pads.
/// </summary>
internal sealed class TextInputs
{
    private enum Role
    {
        Ids,
        Mask,
        Types,
    }

    private readonly LoadedModel _model;
    private readonly Role[] _roles;

    private TextInputs(LoadedModel model, Role[] roles, long fixedLength, long bound)
    {
        _model = model;
        _roles = roles;
        FixedLength = fixedLength;
        Bound = bound;
    }

    /// <summary>The sequence length every record is filled to; -1 when the axis is dynamic.</summary>
    public long FixedLength { get; }

    /// <summary>The most tokens a record may have: the fixed length, or the registration's maximum on the sequence axis
    /// of <c>input_ids</c>; -1 for none.</summary>
    public long Bound { get; }

    /// <summary>Checks that the model's inputs are ones a text recipe fills; throws <see cref="ModelNotSupportedException"/>.</summary>
    public static TextInputs For(LoadedModel model, string kind)
    {
        string Refuse(string why) => $"Model '{model.Name}' v{model.Version} cannot take its {kind} recipe: {why}";
        if (model.BatchMode == BatchMode.None)
        {
            throw new ModelNotSupportedException(Refuse("its inputs have no batch dimension ([batch, sequence] is needed)."));
        }

        var roles = new Role[model.Inputs.Count];
        long fixedLength = -1;
        for (var i = 0; i < model.Inputs.Count; i++)
        {
            var input = model.Inputs[i];
            var index = ((IList<string>)RecipePadding.TextInputs).IndexOf(input.Name);
            if (index < 0)
            {
                throw new ModelNotSupportedException(Refuse($"input '{input.Name}' is not one a text recipe fills ({string.Join(", ", RecipePadding.TextInputs)})."));
            }

            if (input.Dims.Length != 2 || input.Type is not (TensorElementType.Int64 or TensorElementType.Int32))
            {
                throw new ModelNotSupportedException(Refuse($"input '{input.Name}' is {input.Datatype} {input.ShapeText}; a text recipe fills INT64 or INT32 [batch, sequence]."));
            }

            if (input.Dims[1] >= 0 && fixedLength >= 0 && input.Dims[1] != fixedLength)
            {
                throw new ModelNotSupportedException(Refuse($"its inputs disagree on the sequence length ({fixedLength} and {input.Dims[1]})."));
            }

            fixedLength = input.Dims[1] >= 0 ? input.Dims[1] : fixedLength;
            roles[i] = (Role)index;
        }

        var ids = Array.IndexOf(roles, Role.Ids);
        if (ids < 0 || (fixedLength >= 0 && model.Inputs.Any(i => i.Dims[1] < 0)))
        {
            throw new ModelNotSupportedException(Refuse(ids < 0 ? "it has no input 'input_ids'." : "some inputs fix the sequence length and others do not."));
        }

        var bound = fixedLength >= 0 ? fixedLength : model.Inputs[ids].MaxShape[1];
        return new TextInputs(model, roles, fixedLength, bound);
    }

    /// <summary>One record's tensors, ready to join a batch.</summary>
    public PreparedRequest Build(int[] ids, RecipeRecord record, bool[] wanted)
    {
        var length = FixedLength >= 0 ? (int)FixedLength : ids.Length;
        long[] shape = [1, length];
        var tensors = new TensorData[_roles.Length];
        for (var i = 0; i < _roles.Length; i++)
        {
            var values = new long[length];
            switch (_roles[i])
            {
                case Role.Ids:
                    for (var t = 0; t < ids.Length; t++)
                    {
                        values[t] = ids[t];
                    }

                    break;
                case Role.Mask:
                    values.AsSpan(0, ids.Length).Fill(1);
                    break;
            }

            tensors[i] = _model.Inputs[i].Type == TensorElementType.Int64
                ? new TensorData(TensorElementType.Int64, shape, values)
                : new TensorData(TensorElementType.Int32, shape, Array.ConvertAll(values, v => (int)v));
        }

        var (key, padded) = RequestPreparer.GroupOf(_model, tensors);
        return new PreparedRequest(tensors, 1, key, padded, wanted) { Recipe = record };
    }
}
