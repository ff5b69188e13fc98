namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>Layout constants of an HRL file and the bounds this implementation enforces on them.</summary>
internal static class HrlFormat
{
    /// <summary>Suffix of a log (an undo log, a delta) while it is written beside its final path, before it is sealed and renamed.</summary>
    public const string PartialSuffix = ".partial";

    /// <summary>Size of the file header; the first data (or metadata block) starts here.</summary>
    public const int HeaderSize = 4096;

    /// <summary>
    /// The unit every data length, disk offset, metadata size and block position is a multiple of. The specification
    /// does not state it, but Hyper-V's logs (and its example) follow it, and replica targets need it.
    /// </summary>
    public const int SectorSize = 512;

    /// <summary>The default and typical metadata block size.</summary>
    public const int DefaultMetadataSize = 4096;

    /// <summary>Upper bound on <c>MetadataSize</c>: a block is read whole into one buffer, so a hostile file must not size it.</summary>
    public const int MaxMetadataSize = 1 << 20;

    /// <summary>Size of the metadata header that starts a metadata block.</summary>
    public const int MetadataHeaderSize = 32;

    /// <summary>Size of one metadata entry.</summary>
    public const int MetadataEntrySize = 32;

    /// <summary>Log format version 1 (Windows Server 2012 / 2012 R2; read only).</summary>
    public const uint Version1 = 0x0001_0000;

    /// <summary>Log format version 2 (what this library writes).</summary>
    public const uint Version2 = 0x0002_0000;

    /// <summary>The only metadata operation: a write.</summary>
    public const byte MetaOperationWrite = 1;

    /// <summary>How many entries a metadata block of <paramref name="metadataSize"/> bytes holds.</summary>
    public static int EntryCapacity(int metadataSize) => (metadataSize - MetadataHeaderSize) / MetadataEntrySize;
}
