using System.Net.Http.Json;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>Turns a ResultApi error response (RFC 9457 problem details) into <see cref="AiaasApiException"/>.</summary>
internal static class ApiProblem
{
    public static async Task<AiaasApiException> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        Body? problem = null;
        try
        {
            problem = await response.Content.ReadFromJsonAsync<Body>(WireJson.Options, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Text.Json.JsonException)
        {
        }

        return new AiaasApiException(response.StatusCode, problem?.Title ?? response.ReasonPhrase, problem?.Detail);
    }

    private sealed record Body(string? Title, string? Detail);
}
