using AIaaS.Queue.Contracts;
using AIaaS.Queue.Workers.Inference;

namespace AIaaS.Queue.Workers.Recipes;

/// <summary>
/// A model version's recipe, built once when the version loads: it checks that the recipe fits the model (a misfit fails
/// the load, and so every job of the version, with the reason), prepares records from text or images before batching
/// (in its subclasses), and answers each record from its model output after the batched call (<see cref="Finish"/>).
/// </summary>
internal abstract class RecipeRunner
{
    private readonly bool[] _wanted;

    protected RecipeRunner(LoadedModel model, ModelRecipe recipe, int output, IReadOnlyList<string> outputNames)
    {
        Model = model;
        Recipe = recipe;
        Output = output;
        OutputNames = outputNames;
        _wanted = new bool[model.Outputs.Count];
        _wanted[output] = true;
    }

    public LoadedModel Model { get; }
    public ModelRecipe Recipe { get; }

    /// <summary>The index of the model output the post-processing reads: the only one a recipe record asks the model for.</summary>
    public int Output { get; }

    /// <summary>The outputs a job of this recipe answers, by name.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>A copy of the model outputs a recipe record asks for: only <see cref="Output"/>.</summary>
    protected bool[] Wanted => (bool[])_wanted.Clone();

    public static RecipeRunner Create(LoadedModel model, ModelRecipe recipe, string? vocabulary) => recipe.Kind switch
    {
        // The inputs first: a model that takes no text is refused for that before anything about its outputs.
        RecipeKinds.TextEmbedding => new TextEmbeddingRunner(model, recipe, TextInputs.For(model, recipe.Kind), vocabulary),
        RecipeKinds.TextClassification => new TextClassificationRunner(model, recipe, TextInputs.For(model, recipe.Kind), vocabulary),
        RecipeKinds.ImageClassification => new ImageClassificationRunner(model, recipe),
        _ => throw new ModelNotSupportedException(
            $"Model '{model.Name}' v{model.Version} has a recipe of kind '{recipe.Kind}'; the kinds are {string.Join(", ", RecipeKinds.All)}."),
    };

    /// <summary>The model output named <paramref name="name"/>, or the one at <paramref name="fallback"/> when none is
    /// named; throws <see cref="ModelNotSupportedException"/> for a name the model does not have.</summary>
    public static int OutputIndex(LoadedModel model, string? name, string kind, int fallback)
    {
        if (name is null)
        {
            return fallback;
        }

        for (var o = 0; o < model.Outputs.Count; o++)
        {
            if (model.Outputs[o].Name == name)
            {
                return o;
            }
        }

        throw new ModelNotSupportedException($"Model '{model.Name}' v{model.Version} cannot take its {kind} recipe: it has no output '{name}'; " +
            $"its outputs are {string.Join(", ", model.Outputs.Select(o => o.Name))}.");
    }

    /// <summary>The answer for one record from its model outputs, limited to the outputs its job asked for; throws
    /// <see cref="RecipeException"/> with the reason when it cannot be made.</summary>
    public NamedTensor[] Finish(NamedTensor[] outputs, RecipeRecord record)
    {
        var name = Model.Outputs[Output].Name;
        var index = Array.FindIndex(outputs, o => o.Name == name);
        if (index < 0)
        {
            throw new RecipeException($"the model did not return output '{name}'.");
        }

        var answer = Answer(outputs[index].Tensor, record);
        return record.Outputs is not { } asked ? answer : Array.FindAll(answer, a => asked.Contains(a.Name));
    }

    /// <summary>The recipe's outputs for one record, from its part of the model output at <see cref="Output"/>.</summary>
    protected abstract NamedTensor[] Answer(TensorData output, RecipeRecord record);
}
