using System.Buffers.Binary;
using System.IO.Hashing;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

/// <summary>
/// The durable record of how far a transfer got: everything below <see cref="Watermark"/> was written and flushed.
/// 56 bytes, little-endian: "REPLCKPT", version, flags, the job's key (XxHash128 of source, ranges and destination),
/// watermark, total, XxHash3 of the rest. Replaced atomically (temporary file, fsync, rename, directory fsync).
/// </summary>
internal readonly record struct TransferCheckpoint(UInt128 JobKey, bool DestinationKnownZero, long Watermark, long BytesTotal)
{
    public const int Size = 56;
    private const uint Version = 1;
    private static ReadOnlySpan<byte> Magic => "REPLCKPT"u8;

    /// <summary>Reads the checkpoint, or returns null when the file does not exist.</summary>
    /// <exception cref="InvalidDiskFormatException">The file is not a checkpoint of this version or fails its checksum.</exception>
    public static TransferCheckpoint? Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }

        if (bytes.Length != Size || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new InvalidDiskFormatException(path, 0, "transfer checkpoint.Signature", $"not a transfer checkpoint ({bytes.Length} bytes); delete it to start the transfer afresh");
        }

        if (BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(48)) != XxHash3.HashToUInt64(bytes.AsSpan(0, 48)))
        {
            throw new InvalidDiskFormatException(path, 48, "transfer checkpoint.Checksum", "the checksum does not match; delete the file to start the transfer afresh");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        if (version != Version)
        {
            throw new InvalidDiskFormatException(path, 8, "transfer checkpoint.Version", $"version {version} is not supported (expected {Version})");
        }

        long watermark = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(32));
        long total = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(40));
        if (watermark < 0 || total < 0)
        {
            throw new InvalidDiskFormatException(path, 32, "transfer checkpoint.Watermark", $"negative offset {watermark}");
        }

        var key = BinaryPrimitives.ReadUInt128LittleEndian(bytes.AsSpan(16));
        bool knownZero = (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)) & 1) != 0;
        return new TransferCheckpoint(key, knownZero, watermark, total);
    }

    /// <summary>Replaces the checkpoint file durably.</summary>
    public ValueTask SaveAsync(string path, CancellationToken cancellationToken)
    {
        byte[] bytes = new byte[Size];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), DestinationKnownZero ? 1u : 0u);
        BinaryPrimitives.WriteUInt128LittleEndian(bytes.AsSpan(16), JobKey);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(32), Watermark);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(40), BytesTotal);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(48), XxHash3.HashToUInt64(bytes.AsSpan(0, 48)));
        return DurableFile.WriteAsync(path, (stream, ct) => stream.WriteAsync(bytes, ct), cancellationToken);
    }
}
