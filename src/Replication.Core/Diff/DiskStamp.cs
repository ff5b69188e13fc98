using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Diff;

/// <summary>
/// A cheap fingerprint of a disk's files, taken without reading data: for the disk and each parent, the file's
/// identity and change times (<see cref="FileStamp"/>: device, inode, length, modification and change time), the VHDX
/// DataWriteGuid where the format has one, and the disk's geometry; folded into 128 bits. A manifest records the stamp
/// of the disk it was built from; a different stamp means the disk may have changed since. Any write through the file
/// system moves the change time, which no tool can set back, so a write by another program, a restored backup or a
/// replaced file is caught; a manifest with a matching stamp is also verified on a sample before it is trusted.
/// </summary>
internal readonly record struct DiskStamp(UInt128 Value)
{
    /// <summary>The stamp of a disk that has no file (never equal to any other stamp).</summary>
    public static DiskStamp Unknown => default;

    /// <summary>True when the stamp came from real files.</summary>
    public bool IsKnown => Value != UInt128.Zero;

    /// <summary>
    /// The stamp of a sink that is a virtual disk (see <see cref="Of(IVirtualDisk)"/>); <see cref="Unknown"/> for any other
    /// sink (a replica's writer), whose target keeps a stamp of its own.
    /// </summary>
    public static DiskStamp Of(IDiskSink sink) => sink is IVirtualDisk disk ? Of(disk) : Unknown;

    /// <summary>Takes the stamp of a disk and its parents; <see cref="Unknown"/> when any of them has no file.</summary>
    public static DiskStamp Of(IVirtualDisk disk)
    {
        // One 48-byte record per disk of the chain, hashed at once (the same hash as appending them one by one).
        const int RecordSize = 48;
        const int StackRecords = 8;
        int depth = 0;
        for (IVirtualDisk? d = disk; d is not null; d = d.Parent)
        {
            depth++;
        }

        byte[]? rented = depth > StackRecords ? ArrayPool<byte>.Shared.Rent(depth * RecordSize) : null;
        Span<byte> records = rented is null ? stackalloc byte[StackRecords * RecordSize] : rented;
        records = records[..(depth * RecordSize)];
        records.Clear();
        try
        {
            int at = 0;
            for (IVirtualDisk? d = disk; d is not null; d = d.Parent, at += RecordSize)
            {
                if (d.FilePath is not { } path || !File.Exists(path))
                {
                    return Unknown;
                }

                Span<byte> record = records.Slice(at, RecordSize);
                BinaryPrimitives.WriteUInt128LittleEndian(record, FileStamp.Of(path));
                BinaryPrimitives.WriteInt64LittleEndian(record[16..], d.VirtualSize);
                BinaryPrimitives.WriteInt32LittleEndian(record[24..], (int)d.Format);
                BinaryPrimitives.WriteInt32LittleEndian(record[28..], (int)d.DiskType);
                (d.DataWriteGuid ?? Guid.Empty).TryWriteBytes(record[32..]);
            }

            UInt128 value = XxHash128.HashToUInt128(records);
            return new DiskStamp(value == UInt128.Zero ? UInt128.One : value);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
