namespace Replication.Core.Disks.Vhd;

/// <summary>The cylinder / head / sectors-per-track geometry stored in the VHD footer (informational: the footer's current size is authoritative).</summary>
/// <param name="Cylinders">Number of cylinders.</param>
/// <param name="Heads">Heads per cylinder.</param>
/// <param name="SectorsPerTrack">Sectors per track.</param>
internal readonly record struct VhdGeometry(ushort Cylinders, byte Heads, byte SectorsPerTrack)
{
    /// <summary>The largest geometry the footer can hold: 65535 × 16 × 255 sectors (about 127 GiB).</summary>
    public static VhdGeometry Maximum { get; } = new(65535, 16, 255);

    /// <summary>Number of 512-byte sectors the geometry addresses.</summary>
    public long Sectors => (long)Cylinders * Heads * SectorsPerTrack;

    /// <summary>
    /// The geometry for a disk of <paramref name="totalSectors"/> sectors, by the algorithm of the VHD specification
    /// (appendix "CHS Calculation"). The result may address fewer sectors than asked: CHS cannot express every size.
    /// </summary>
    public static VhdGeometry FromSectors(long totalSectors)
    {
        totalSectors = Math.Clamp(totalSectors, 0, Maximum.Sectors);
        int sectorsPerTrack;
        int heads;
        long cylindersTimesHeads;
        if (totalSectors >= 65535L * 16 * 63)
        {
            sectorsPerTrack = 255;
            heads = 16;
            cylindersTimesHeads = totalSectors / sectorsPerTrack;
        }
        else
        {
            sectorsPerTrack = 17;
            cylindersTimesHeads = totalSectors / sectorsPerTrack;
            heads = (int)((cylindersTimesHeads + 1023) / 1024);
            if (heads < 4)
            {
                heads = 4;
            }

            if (cylindersTimesHeads >= heads * 1024L || heads > 16)
            {
                sectorsPerTrack = 31;
                heads = 16;
                cylindersTimesHeads = totalSectors / sectorsPerTrack;
            }

            if (cylindersTimesHeads >= heads * 1024L)
            {
                sectorsPerTrack = 63;
                heads = 16;
                cylindersTimesHeads = totalSectors / sectorsPerTrack;
            }
        }

        return new VhdGeometry((ushort)(cylindersTimesHeads / heads), (byte)heads, (byte)sectorsPerTrack);
    }

    /// <summary>
    /// The geometry this library writes for a disk of <paramref name="size"/> bytes: the specification's geometry when
    /// it addresses exactly <paramref name="size"/> bytes, otherwise <see cref="Maximum"/>.
    /// </summary>
    /// <remarks>
    /// Readers that size a disk from its geometry (Virtual PC, and QEMU up to 9.x for creator applications it does not
    /// know, such as ours) would otherwise see a disk cut short to the geometry's size. The maximum geometry is the
    /// convention, shared with QEMU's <c>force-size</c> option and the Azure tooling, for "use the footer's current
    /// size"; Hyper-V and Azure always use the current size.
    /// </remarks>
    public static VhdGeometry ForSize(long size)
    {
        VhdGeometry geometry = FromSectors(size / 512);
        return geometry.Sectors * 512 == size ? geometry : Maximum;
    }
}
