namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>How an <see cref="HrlWriter"/> lays out and buffers a log. Immutable; validated when constructed.</summary>
public sealed class HrlWriterOptions
{
    /// <summary>Creates options.</summary>
    /// <param name="metadataSize">Size of each metadata block: a multiple of 512 from 512 to 1 MiB (default 4096, 127 entries).</param>
    /// <param name="bufferSize">
    /// Bytes of data buffered per batch before they are written to the file (default 1 MiB; 4 KiB to 256 MiB). Larger
    /// appends are written straight through.
    /// </param>
    /// <param name="creatorApplication">The header's CreatorApplication: at most four Latin-1 characters.</param>
    /// <param name="creatorVersion">The header's CreatorVersion.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="ArgumentException"><paramref name="creatorApplication"/> does not fit the field.</exception>
    public HrlWriterOptions(
        int metadataSize = HrlFormat.DefaultMetadataSize,
        int bufferSize = DefaultBufferSize,
        string creatorApplication = DefaultCreatorApplication,
        uint creatorVersion = DefaultCreatorVersion)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(metadataSize, HrlFormat.SectorSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(metadataSize, HrlFormat.MaxMetadataSize);
        if (metadataSize % HrlFormat.SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(metadataSize), metadataSize, "The metadata size must be a multiple of 512.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, MinBufferSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bufferSize, MaxBufferSize);
        ArgumentNullException.ThrowIfNull(creatorApplication);
        if (!HrlFileHeader.IsValidCreatorApplication(creatorApplication))
        {
            throw new ArgumentException("CreatorApplication holds at most four Latin-1 characters.", nameof(creatorApplication));
        }

        MetadataSize = metadataSize;
        BufferSize = bufferSize;
        CreatorApplication = creatorApplication;
        CreatorVersion = creatorVersion;
    }

    /// <summary>Default <see cref="BufferSize"/>: 1 MiB.</summary>
    public const int DefaultBufferSize = 1 << 20;

    /// <summary>Smallest <see cref="BufferSize"/>.</summary>
    public const int MinBufferSize = 4096;

    /// <summary>Largest <see cref="BufferSize"/>.</summary>
    public const int MaxBufferSize = 256 << 20;

    /// <summary>Default <see cref="CreatorApplication"/>: "rpl", this library (Hyper-V writes "ct").</summary>
    public const string DefaultCreatorApplication = "rpl";

    /// <summary>Default <see cref="CreatorVersion"/>: 1.0 (major in the high 16 bits).</summary>
    public const uint DefaultCreatorVersion = 0x0001_0000;

    /// <summary>The default options.</summary>
    public static HrlWriterOptions Default { get; } = new();

    /// <summary>Size of each metadata block in bytes.</summary>
    public int MetadataSize { get; }

    /// <summary>Entries per metadata block: (<see cref="MetadataSize"/> − 32) / 32.</summary>
    public int EntriesPerMetadataBlock => HrlFormat.EntryCapacity(MetadataSize);

    /// <summary>Bytes of data buffered per batch.</summary>
    public int BufferSize { get; }

    /// <summary>The header's CreatorApplication.</summary>
    public string CreatorApplication { get; }

    /// <summary>The header's CreatorVersion.</summary>
    public uint CreatorVersion { get; }
}
