using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Replication.Core.IO;

/// <summary>
/// A fingerprint of a file's identity and last change, taken from statx(2) without reading data: device, inode,
/// length, modification time and change time (nanoseconds), folded into 128 bits. Any write to the file through the
/// file system moves its change time, which no user-space tool can set back (unlike the modification time that
/// <c>touch -d</c> or <c>cp -p</c> restore), and replacing the file by another one changes its inode.
/// </summary>
/// <remarks>
/// A write that the kernel performs within one tick of the file system's timestamp clock after the stamp was taken, on
/// a file system whose change time has coarse granularity, can keep the stamp; callers that must catch that pair the
/// stamp with a sample of the data. Off Linux (no statx) the stamp falls back to length and modification time.
/// </remarks>
internal static partial class FileStamp
{
    private const int AtFdCwd = -100;
    private const uint BasicStats = 0x7ff; // STATX_BASIC_STATS
    private const int StatxSize = 256;
    private const int InodeOffset = 32;
    private const int ChangeTimeOffset = 96;
    private const int ModifyTimeOffset = 112;
    private const int DeviceMajorOffset = 136;

    /// <summary>The file's stamp, never zero; throws <see cref="FileNotFoundException"/> when it does not exist.</summary>
    public static UInt128 Of(string path)
    {
        Span<byte> record = stackalloc byte[40];
        record.Clear();
        if (OperatingSystem.IsLinux())
        {
            Span<byte> statx = stackalloc byte[StatxSize];
            if (Statx(AtFdCwd, path, 0, BasicStats, ref MemoryMarshal.GetReference(statx)) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw errno == 2
                    ? new FileNotFoundException($"{path}: no such file.", path)
                    : new IOException($"{path}: cannot read the file's status (errno {errno}).");
            }

            statx.Slice(InodeOffset, 16).CopyTo(record);                   // inode, length
            statx.Slice(ChangeTimeOffset, 12).CopyTo(record[16..]);        // change time: seconds, nanoseconds
            statx.Slice(ModifyTimeOffset, 12).CopyTo(record[28..]);        // modification time: seconds, nanoseconds
            ulong device = BinaryPrimitives.ReadUInt64LittleEndian(statx[DeviceMajorOffset..]);
            record[..8].Xor(device);
        }
        else
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new FileNotFoundException($"{path}: no such file.", path);
            }

            BinaryPrimitives.WriteInt64LittleEndian(record[8..], info.Length);
            BinaryPrimitives.WriteInt64LittleEndian(record[28..], info.LastWriteTimeUtc.Ticks);
        }

        UInt128 value = XxHash128.HashToUInt128(record);
        return value == UInt128.Zero ? UInt128.One : value;
    }

    /// <summary>The file's inode number (Linux), or null where statx is not available.</summary>
    public static ulong? InodeOf(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        Span<byte> statx = stackalloc byte[StatxSize];
        return Statx(AtFdCwd, path, 0, BasicStats, ref MemoryMarshal.GetReference(statx)) == 0
            ? BinaryPrimitives.ReadUInt64LittleEndian(statx[InodeOffset..])
            : null;
    }

    private static void Xor(this Span<byte> target, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(target, BinaryPrimitives.ReadUInt64LittleEndian(target) ^ value);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, ref byte buffer);
}
