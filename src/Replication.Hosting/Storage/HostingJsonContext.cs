using System.Text.Json.Serialization;
using Replication.Hosting.Items;
using Replication.Hosting.Plans;

namespace Replication.Hosting.Storage;

/// <summary>The store's JSON bodies (items, plans), generated at build time.</summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HostedItem))]
[JsonSerializable(typeof(RecoveryPlan))]
[JsonSerializable(typeof(RecoveryPlanRunParameters))]
internal sealed partial class HostingJsonContext : JsonSerializerContext
{
}
