using AIaaS.Queue.Contracts;
using MassTransit;

namespace AIaaS.Queue.ServiceDefaults;

public static class SerializerConfiguration
{
    /// <summary>Lets message bodies carry NaN and infinities (see <see cref="WireJson"/>).</summary>
    public static void AllowNonFiniteNumbers(this IBusFactoryConfigurator configurator) =>
        configurator.ConfigureJsonSerializerOptions(options =>
        {
            options.NumberHandling |= WireJson.NumberHandling;
            return options;
        });
}
