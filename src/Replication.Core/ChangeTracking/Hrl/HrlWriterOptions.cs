using Replication.Core.IO;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// How an <see cref="HrlWriter"/> lays out and buffers a log. Immutable; <see cref="Validate"/> lists what is wrong, and
/// a writer refuses invalid options with an <see cref="ArgumentException"/> before it creates anything.
/// </summary>
public sealed record HrlWriterOptions
{
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

    /// <summary>Size of each metadata block: a multiple of 512 from 512 to 1 MiB (default 4096, 127 entries).</summary>
    public int MetadataSize { get; init; } = HrlFormat.DefaultMetadataSize;

    /// <summary>Entries per metadata block: (<see cref="MetadataSize"/> − 32) / 32.</summary>
    public int EntriesPerMetadataBlock => HrlFormat.EntryCapacity(MetadataSize);

    /// <summary>
    /// Bytes of data buffered per batch before they are written to the file (default 1 MiB; 4 KiB to 256 MiB). Larger
    /// appends are written straight through.
    /// </summary>
    public int BufferSize { get; init; } = DefaultBufferSize;

    /// <summary>The header's CreatorApplication: at most four Latin-1 characters.</summary>
    public string CreatorApplication { get; init; } = DefaultCreatorApplication;

    /// <summary>The header's CreatorVersion.</summary>
    public uint CreatorVersion { get; init; } = DefaultCreatorVersion;

    /// <summary>Lists what is wrong with these options, each message naming the property; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate() => new OptionFailures()
        .Range(MetadataSize, HrlFormat.SectorSize, HrlFormat.MaxMetadataSize, nameof(MetadataSize))
        .When(MetadataSize % HrlFormat.SectorSize != 0, nameof(MetadataSize), "must be a multiple of 512")
        .Range(BufferSize, MinBufferSize, MaxBufferSize, nameof(BufferSize))
        .When(CreatorApplication is null || !HrlFileHeader.IsValidCreatorApplication(CreatorApplication), nameof(CreatorApplication), "must hold at most four Latin-1 characters")
        .Failures;
}
