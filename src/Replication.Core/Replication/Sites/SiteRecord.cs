namespace Replication.Core.Replication.Sites;

/// <summary>An item's record as stored at a site, with the version a conditional write names.</summary>
/// <param name="Content">The record's bytes.</param>
/// <param name="Version">The stored version (an ETag, or a hash of the content).</param>
/// <param name="Where">Where it is stored, for messages.</param>
public sealed record SiteRecord(ReadOnlyMemory<byte> Content, string Version, string Where);
