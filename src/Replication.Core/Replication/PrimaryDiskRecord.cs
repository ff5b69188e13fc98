namespace Replication.Core.Replication;

/// <summary>
/// The primary side of the relationship, kept in each protected disk's log folder: which item and site the disk is
/// protected to. A disk protected to one item is refused by another.
/// </summary>
internal sealed class PrimaryDiskRecord
{
    public const string FileName = "protection.json";

    public required string Item { get; set; }

    public Guid RelationshipId { get; set; }

    public required string Site { get; set; }

    public int DiskIndex { get; set; }
}
