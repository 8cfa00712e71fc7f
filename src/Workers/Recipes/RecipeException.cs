namespace AIaaS.Queue.Workers.Recipes;

/// <summary>A recipe could not turn one record's model outputs into its answer; the message says why, for that record's job.</summary>
internal sealed class RecipeException(string message) : Exception(message);

/// <summary>What a recipe's post-processing needs to know of one record it prepared: its token count (0 for images),
/// whether its text was cut, and the recipe outputs the job asked for (null for all).</summary>
internal sealed record RecipeRecord(int Tokens, bool Truncated, IReadOnlyList<string>? Outputs = null);
