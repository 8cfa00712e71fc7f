using System.Net.Http.Headers;
using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

internal sealed partial class AiaasClient
{
    public async Task<ModelView> RegisterModelWithBackgroundAsync(string name, Stream onnxFile, Stream backgroundCsv, BatchingSettings? batching = null,
        string? description = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onnxFile);
        ArgumentNullException.ThrowIfNull(backgroundCsv);
        using var form = ModelForm(onnxFile);
        var background = new StreamContent(backgroundCsv);
        background.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        form.Add(background, "background", "background.csv");
        using var response = await http.PutAsync(RegistrationUri(name, batching, description), form, cancellationToken).ConfigureAwait(false);
        return await ReadAsync<ModelView>(response, cancellationToken).ConfigureAwait(false);
    }
}
