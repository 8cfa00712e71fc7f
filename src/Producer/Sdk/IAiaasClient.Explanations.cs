using AIaaS.Queue.Contracts;

namespace AIaaS.Queue.Producer;

/// <summary>Explanations of tabular models: registering a model with the background data they average over.</summary>
public partial interface IAiaasClient
{
    /// <summary>Uploads an ONNX file as the next version of <paramref name="name"/> with its background data: a CSV file
    /// (<paramref name="backgroundCsv"/>) with a header of feature names and rows of raw feature values, such as a sample of
    /// the training data (more than 100 rows are sampled down). Predictions of that version can then be explained
    /// (<see cref="PredictRequest.Explain"/>), with the header's names. The server refuses (<see cref="AiaasApiException"/>,
    /// 400) a file that does not fit the model: not one float input of shape [batch, features], or another count of features.</summary>
    Task<ModelView> RegisterModelWithBackgroundAsync(string name, Stream onnxFile, Stream backgroundCsv, BatchingSettings? batching = null,
        string? description = null, CancellationToken cancellationToken = default);
}
