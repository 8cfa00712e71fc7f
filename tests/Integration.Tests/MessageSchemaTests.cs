using System.Net;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using AIaaS.Queue.Contracts;
using AIaaS.Queue.Integration.Tests.Infrastructure;

namespace AIaaS.Queue.Integration.Tests;

/// <summary>
/// The JSON Schemas the API serves for the broker's commands agree with the contract types: every member the wire writes is
/// described, the required ones are exactly the contract's <c>required</c> members, enums list their names, and a
/// predict job's tensors are described as the tensor form.
/// </summary>
public sealed class MessageSchemaTests(DistributedSystem system) : IClassFixture<DistributedSystem>, IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = system.ApiUrl };

    public static TheoryData<Type> Commands => new(typeof(SubmitPredictJob), typeof(SubmitTrainJob), typeof(CancelJob), typeof(SubmitBulkJob));

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task EachCommandsSchemaDescribesEveryWireMemberAndRequiresTheContractsRequiredOnes(Type command)
    {
        var ct = TestTimeout.After(30);

        using var response = await _http.GetAsync($"/v1/schemas/{command.Name}", ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/schema+json", response.Content.Headers.ContentType?.MediaType);
        var schema = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!.AsObject();

        var wireNames = command.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order(StringComparer.Ordinal).ToArray();
        var required = command.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<RequiredMemberAttribute>() is not null)
            .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(wireNames, schema["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(required, schema["required"]!.AsArray().Select(n => n!.GetValue<string>()).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal($"AIaaS.Queue.Contracts:{command.Name}", (await ListAsync(ct)).Single(l => l!["name"]!.GetValue<string>() == command.Name)!["exchange"]!.GetValue<string>());
    }

    [Fact]
    public async Task APredictJobsSchemaSpellsOutTypesEnumsAndTensors()
    {
        var ct = TestTimeout.After(30);

        var schema = JsonNode.Parse(await _http.GetStringAsync("/v1/schemas/SubmitPredictJob", ct))!;
        var properties = schema["properties"]!;

        Assert.Equal("https://json-schema.org/draft/2020-12/schema", schema["$schema"]!.GetValue<string>());
        Assert.Equal("uuid", properties["jobId"]!["format"]!.GetValue<string>());
        Assert.Equal("date-time", properties["submittedAt"]!["format"]!.GetValue<string>());
        Assert.Equal(["Normal", "High"], properties["priority"]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()));
        var tensor = properties["inputs"]!["items"]!;
        Assert.Equal(["data", "datatype", "name", "shape"], tensor["properties"]!.AsObject().Select(p => p.Key).Where(k => k is "name" or "datatype" or "shape" or "data").Order(StringComparer.Ordinal));
        using var unknown = await _http.GetAsync("/v1/schemas/DropTables", ct);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    private async Task<JsonArray> ListAsync(CancellationToken ct) => JsonNode.Parse(await _http.GetStringAsync("/v1/schemas", ct))!.AsArray();

    public void Dispose() => _http.Dispose();
}
