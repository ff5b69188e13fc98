using System.Globalization;
using Replication.Core.Diff;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

/// <summary>What kind of operation a <see cref="CopyCheckpoint"/> belongs to.</summary>
internal enum CopyKind : byte
{
    /// <summary>A full copy of a source's allocated ranges (a seed, a download).</summary>
    Seed = 1,

    /// <summary>A copy of the ranges where two manifests differ.</summary>
    Resync = 2,

    /// <summary>An apply of the coalesced extents of sealed logs.</summary>
    Apply = 3,
}

/// <summary>
/// The one checkpoint format of every copy (seed, resync, log apply): the durable record of how far it got. Everything
/// below <see cref="Watermark"/> was written and flushed. One record (<see cref="RecordFormat"/>, magic "REPLCKPT",
/// version 2), replaced atomically, whose payload holds, little-endian: kind u8, phase u8, flags u16 (bit 0: the
/// destination read as zeros before the copy), reserved u32, the job's key (XxHash128 of what identifies the job: its
/// source, ranges and destination, or its logs), virtual size, watermark, bytes total, data bytes sent and bytes written
/// by every run so far, the source's stamp, the two manifests' table checksums a resync diffed (pinning the ranges a
/// resume computes again), and the coarse and fine block sizes.
/// </summary>
internal sealed record CopyCheckpoint
{
    /// <summary>The copy is writing its ranges.</summary>
    public const byte CopyingPhase = 1;

    /// <summary>The copy is done and flushed; what follows it (storing a manifest) may not be.</summary>
    public const byte FinalizingPhase = 2;

    private const int PayloadSize = 120;
    private const ushort KnownZeroFlag = 1;

    /// <summary>The record format.</summary>
    internal static readonly RecordFormat Format = new("copy checkpoint", "REPLCKPT"u8, version: 2, PayloadSize, PayloadSize);

    public CopyKind Kind { get; init; }

    public byte Phase { get; init; } = CopyingPhase;

    public bool DestinationKnownZero { get; init; }

    public UInt128 JobKey { get; init; }

    public long VirtualSize { get; init; }

    /// <summary>Everything below this offset is written and flushed.</summary>
    public long Watermark { get; init; }

    public long BytesTotal { get; init; }

    /// <summary>Data bytes sent by every run of this copy so far.</summary>
    public long DataBytesSent { get; init; }

    /// <summary>Bytes written (data and zeros) by every run of this copy so far.</summary>
    public long BytesWritten { get; init; }

    public DiskStamp SourceStamp { get; init; }

    public UInt128 SourceManifestChecksum { get; init; }

    public UInt128 TargetManifestChecksum { get; init; }

    public int CoarseBlockSize { get; init; }

    public int FineBlockSize { get; init; }

    /// <summary>Reads the checkpoint at <paramref name="path"/>; null when there is none.</summary>
    /// <exception cref="InvalidRecordException">The file is not a checkpoint of this version, or fails its checks.</exception>
    public static CopyCheckpoint? Load(string? path)
    {
        if (path is null || Format.ReadFile(path) is not { } bytes)
        {
            return null;
        }

        RecordReader r = Format.Decode(bytes, path);
        byte kind = r.Byte("Kind");
        if (kind is < (byte)CopyKind.Seed or > (byte)CopyKind.Apply)
        {
            throw r.Error("Kind", string.Create(CultureInfo.InvariantCulture, $"unknown kind {kind}"));
        }

        byte phase = r.Byte("Phase");
        if (phase is not (CopyingPhase or FinalizingPhase))
        {
            throw r.Error("Phase", string.Create(CultureInfo.InvariantCulture, $"unknown phase {phase}"));
        }

        ushort flags = r.UInt16("Flags");
        if ((flags & ~KnownZeroFlag) != 0)
        {
            throw r.Error("Flags", string.Create(CultureInfo.InvariantCulture, $"unknown flags 0x{flags:X4}"));
        }

        r.Reserved(4);
        UInt128 key = r.UInt128("JobKey");
        long virtualSize = r.Int64("VirtualSize");
        if (virtualSize <= 0 || virtualSize % 512 != 0 || virtualSize > ManifestHeader.MaxVirtualSize)
        {
            throw r.Error("VirtualSize", string.Create(CultureInfo.InvariantCulture, $"{virtualSize} is not a positive multiple of 512"));
        }

        long watermark = r.Int64("Watermark");
        if (watermark < 0 || watermark > virtualSize)
        {
            throw r.Error("Watermark", string.Create(CultureInfo.InvariantCulture, $"{watermark} is outside the disk of {virtualSize} bytes"));
        }

        long total = r.Int64("BytesTotal");
        long sent = r.Int64("DataBytesSent");
        long written = r.Int64("BytesWritten");
        if (total < 0 || sent < 0 || written < 0)
        {
            throw r.Error(total < 0 ? "BytesTotal" : sent < 0 ? "DataBytesSent" : "BytesWritten", "a byte count is negative");
        }

        var stamp = new DiskStamp(r.UInt128("SourceStamp"));
        UInt128 sourceManifest = r.UInt128("SourceManifestChecksum");
        UInt128 targetManifest = r.UInt128("TargetManifestChecksum");
        int coarse = r.Int32("CoarseBlockSize");
        int fine = r.Int32("FineBlockSize");
        if (kind == (byte)CopyKind.Resync && (!ManifestOptions.IsValidSize(coarse) || coarse > ManifestOptions.MaxCoarseBlockSize || !ManifestOptions.IsValidSize(fine) || fine > coarse))
        {
            throw r.Error("CoarseBlockSize", string.Create(CultureInfo.InvariantCulture, $"{coarse}-byte blocks of {fine}-byte fine blocks are not valid block sizes"));
        }

        r.End();
        return new CopyCheckpoint
        {
            Kind = (CopyKind)kind,
            Phase = phase,
            DestinationKnownZero = (flags & KnownZeroFlag) != 0,
            JobKey = key,
            VirtualSize = virtualSize,
            Watermark = watermark,
            BytesTotal = total,
            DataBytesSent = sent,
            BytesWritten = written,
            SourceStamp = stamp,
            SourceManifestChecksum = sourceManifest,
            TargetManifestChecksum = targetManifest,
            CoarseBlockSize = coarse,
            FineBlockSize = fine,
        };
    }

    /// <summary>
    /// What the copy engine calls after each flush to record how far a copy that started from <paramref name="start"/>
    /// got: the watermark, and this run's bytes added to what earlier runs did. Null when there is no checkpoint file.
    /// </summary>
    /// <param name="path">The checkpoint file, or null.</param>
    /// <param name="start">The checkpoint the run started from (or a fresh one).</param>
    /// <param name="saved">Called after each save with the watermark saved.</param>
    public static Func<CopyWatermark, CancellationToken, ValueTask>? Saver(string? path, CopyCheckpoint start, Action<CopyWatermark>? saved = null) =>
        path is null
            ? null
            : (mark, _) =>
            {
                (start with
                {
                    Watermark = mark.Offset,
                    DataBytesSent = start.DataBytesSent + mark.BytesSent,
                    BytesWritten = start.BytesWritten + mark.BytesSent + mark.BytesZeroed,
                }).Save(path);
                saved?.Invoke(mark);
                return ValueTask.CompletedTask;
            };

    /// <summary>Replaces the checkpoint file durably and atomically.</summary>
    public void Save(string path) => Format.Write(path, PayloadSize, (ref RecordWriter w) =>
    {
        w.Byte((byte)Kind);
        w.Byte(Phase);
        w.UInt16(DestinationKnownZero ? KnownZeroFlag : (ushort)0);
        w.Reserved(4);
        w.UInt128(JobKey);
        w.Int64(VirtualSize);
        w.Int64(Watermark);
        w.Int64(BytesTotal);
        w.Int64(DataBytesSent);
        w.Int64(BytesWritten);
        w.UInt128(SourceStamp.Value);
        w.UInt128(SourceManifestChecksum);
        w.UInt128(TargetManifestChecksum);
        w.Int32(CoarseBlockSize);
        w.Int32(FineBlockSize);
    });
}
