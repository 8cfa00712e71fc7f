using AIaaS.Queue.Contracts;
using Microsoft.ML.OnnxRuntime;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// A text recipe makes records of different lengths, so it implies what a registration would otherwise have to say:
/// pad <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c> on the sequence axis with 0 (the [PAD] id, and a
/// mask that hides the padding), so that texts of any length share model calls and are grouped by length. An input the
/// registration configured keeps its settings.
/// </summary>
internal static class RecipePadding
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string TokenTypeIds = "token_type_ids";

    public static IReadOnlyList<string> TextInputs { get; } = [InputIds, AttentionMask, TokenTypeIds];

    public static BatchingSettings Apply(BatchingSettings batching, ModelRecipe? recipe, IReadOnlyDictionary<string, NodeMetadata> inputs)
    {
        if (recipe is null || !RecipeKinds.TakesText(recipe.Kind))
        {
            return batching;
        }

        Dictionary<string, InputBatching>? merged = null;
        foreach (var name in TextInputs)
        {
            // Only a dynamic sequence axis pads; a fixed one is filled to its length by the recipe itself.
            if (batching.Inputs?.ContainsKey(name) == true || !inputs.TryGetValue(name, out var meta)
                || !meta.IsTensor || meta.Dimensions.Length != 2 || meta.Dimensions[1] >= 0)
            {
                continue;
            }

            merged ??= new Dictionary<string, InputBatching>(batching.Inputs ?? new Dictionary<string, InputBatching>(), StringComparer.Ordinal);
            merged[name] = new InputBatching { PadAxes = [1] };
        }

        return merged is null ? batching : batching with { Inputs = merged };
    }
}
