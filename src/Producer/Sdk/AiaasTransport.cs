namespace AIaaS.Queue.Producer;

/// <summary>How the SDK submits jobs (predict, train, cancel); reads always go to the ResultApi over HTTP.</summary>
public enum AiaasTransport
{
    /// <summary>The SDK's own broker connection when <see cref="AiaasClientOptions.RabbitMqUri"/> is set; else the host's
    /// MassTransit bus when the host has one (the embedded default); else HTTP to <see cref="AiaasClientOptions.ApiUrl"/>.</summary>
    Auto,

    /// <summary>The broker only: the SDK's own connection (<see cref="AiaasClientOptions.RabbitMqUri"/>) or the host's bus;
    /// a submit throws when there is neither, rather than going over HTTP.</summary>
    Broker,

    /// <summary>HTTP only (<c>POST /v1/jobs</c>, <c>/v1/jobs/batch</c>, <c>/v1/jobs/{id}/cancel</c>): the client needs no
    /// broker access at all, and opens no broker connection. <see cref="AiaasClientOptions.RabbitMqUri"/> must be unset.</summary>
    Http,
}
