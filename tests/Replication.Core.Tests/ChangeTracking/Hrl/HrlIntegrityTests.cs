using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.ChangeTracking.Hrl.HrlSpecLayout;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

/// <summary>The XxHash128 sidecar beside sealed logs.</summary>
public sealed class HrlIntegrityTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void The_sidecar_records_length_identity_and_the_xxh128sum_hash()
    {
        WrittenLog log = Sealed("a.hrl", seed: 1);
        HrlSidecar written = HrlIntegrity.WriteSidecar(log.Path);

        Assert.Equal(new FileInfo(log.Path).Length, written.LogLength);
        Assert.Equal(log.Identity.UniqueId, written.LogUniqueId);
        Assert.Equal(HrlIntegrity.ComputeHash(log.Path), written.Hash);

        // xxh128sum (the xxHash project's own tool) is the oracle for the hash and its byte order.
        string printed = ExternalTool.Run("xxh128sum", log.Path).EnsureSuccess("xxh128sum").StandardOutput.Split(' ')[0];
        Assert.Equal(UInt128.Parse(printed, NumberStyles.HexNumber, CultureInfo.InvariantCulture), written.Hash);
        byte[] sidecar = File.ReadAllBytes(log.Path + ".xxh128");
        Assert.Equal(HrlSidecar.Size, sidecar.Length);
        Assert.Equal(printed, Convert.ToHexStringLower(sidecar.AsSpan(40, 16)));

        Assert.Equal(written, HrlIntegrity.VerifySidecar(log.Path));
        Assert.Equal(written, HrlIntegrity.ReadSidecar(log.Path));
    }

    [Fact]
    public void Writing_the_sidecar_again_is_idempotent_and_leaves_no_temporary_file()
    {
        WrittenLog log = Sealed("b.hrl", seed: 2);
        HrlIntegrity.WriteSidecar(log.Path);
        byte[] first = File.ReadAllBytes(HrlIntegrity.GetSidecarPath(log.Path));
        HrlIntegrity.WriteSidecar(log.Path);
        Assert.Equal(first, File.ReadAllBytes(HrlIntegrity.GetSidecarPath(log.Path)));
        Assert.Equal(["b.hrl", "b.hrl.xxh128"], Directory.GetFiles(_temp.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_changed_byte_fails_verification()
    {
        WrittenLog log = Sealed("c.hrl", seed: 3);
        HrlIntegrity.WriteSidecar(log.Path);
        byte[] bytes = File.ReadAllBytes(log.Path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(log.Path, bytes);
        InvalidLogFormatException ex = Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.VerifySidecar(log.Path));
        Assert.Equal("XxHash128", ex.Field);
        Assert.Equal(Path.GetFullPath(log.Path), ex.FilePath);
    }

    [Fact]
    public void Swapped_data_bytes_pass_the_format_checksums_but_not_the_sidecar()
    {
        WrittenLog log = Sealed("d.hrl", seed: 4);
        HrlIntegrity.WriteSidecar(log.Path);
        HrlRecord record;
        using (HrlReader reader = HrlReader.Open(log.Path))
        {
            record = reader.ReadRecords().First(r => r.Length >= 1024);
        }

        byte[] bytes = File.ReadAllBytes(log.Path);
        int a = (int)record.FileOffset;
        int b = Enumerable.Range(a + 1, (int)record.Length - 1).First(i => bytes[i] != bytes[a]);
        (bytes[a], bytes[b]) = (bytes[b], bytes[a]);
        File.WriteAllBytes(log.Path, bytes);

        using (HrlReader reader = HrlReader.Open(log.Path))
        {
            Assert.Equal(log.Committed.Count, reader.VerifyData()); // the byte sum cannot see it
        }

        Assert.Equal("XxHash128", Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.VerifySidecar(log.Path)).Field);
    }

    [Fact]
    public void A_moved_write_with_a_recomputed_entry_checksum_passes_the_format_but_not_the_sidecar()
    {
        WrittenLog log = Sealed("e.hrl", seed: 5);
        HrlIntegrity.WriteSidecar(log.Path);
        byte[] bytes = File.ReadAllBytes(log.Path);
        (long position, _) = WalkBlocks(bytes)[0];
        Span<byte> entry = bytes.AsSpan((int)position + 32, 32);
        BinaryPrimitives.WriteUInt64LittleEndian(entry, BinaryPrimitives.ReadUInt64LittleEndian(entry) + 4096);
        Restamp(entry, EntryFields);
        File.WriteAllBytes(log.Path, bytes);

        using (HrlReader reader = HrlReader.Open(log.Path))
        {
            Assert.Equal(log.Committed[0].DiskOffset + 4096, reader.ReadRecords().First().DiskOffset);
        }

        Assert.Equal("XxHash128", Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.VerifySidecar(log.Path)).Field);
    }

    [Fact]
    public void A_longer_or_shorter_log_fails_on_its_length_first()
    {
        WrittenLog log = Sealed("f.hrl", seed: 6);
        HrlIntegrity.WriteSidecar(log.Path);
        using (FileStream stream = File.Open(log.Path, FileMode.Append))
        {
            stream.WriteByte(0);
        }

        Assert.Equal("length", Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.VerifySidecar(log.Path)).Field);
        using (FileStream stream = File.Open(log.Path, FileMode.Open))
        {
            stream.SetLength(stream.Length - 2);
        }

        Assert.Equal("length", Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.VerifySidecar(log.Path)).Field);
    }

    [Fact]
    public void The_sidecar_of_another_log_is_rejected_by_identity()
    {
        // Same seed, same sizes: the two logs differ only in their identifiers.
        WrittenLog a = Sealed("g1.hrl", seed: 7);
        WrittenLog b = Sealed("g2.hrl", seed: 7);
        Assert.Equal(new FileInfo(a.Path).Length, new FileInfo(b.Path).Length);
        HrlIntegrity.WriteSidecar(a.Path);
        File.Copy(HrlIntegrity.GetSidecarPath(a.Path), HrlIntegrity.GetSidecarPath(b.Path));
        Assert.Equal("UniqueId", Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.VerifySidecar(b.Path)).Field);
    }

    [Fact]
    public void Every_corrupted_sidecar_byte_is_rejected()
    {
        WrittenLog log = Sealed("h.hrl", seed: 8);
        HrlIntegrity.WriteSidecar(log.Path);
        string sidecarPath = HrlIntegrity.GetSidecarPath(log.Path);
        byte[] original = File.ReadAllBytes(sidecarPath);
        for (int bit = 0; bit < original.Length * 8; bit++)
        {
            byte[] bytes = (byte[])original.Clone();
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
            File.WriteAllBytes(sidecarPath, bytes);
            InvalidRecordException ex = Assert.Throws<InvalidRecordException>(() => HrlIntegrity.VerifySidecar(log.Path));
            Assert.StartsWith("HRL integrity sidecar.", ex.Field, StringComparison.Ordinal);
            Assert.Equal(Path.GetFullPath(sidecarPath), ex.FilePath);
        }

        for (int length = 0; length < original.Length; length++)
        {
            File.WriteAllBytes(sidecarPath, original.AsSpan(0, length).ToArray());
            Assert.Equal("HRL integrity sidecar.Length", Assert.Throws<InvalidRecordException>(() => HrlIntegrity.ReadSidecar(log.Path)).Field);
        }

        File.WriteAllBytes(sidecarPath, [.. original, 0]);
        Assert.Equal("HRL integrity sidecar.Length", Assert.Throws<InvalidRecordException>(() => HrlIntegrity.ReadSidecar(log.Path)).Field);
    }

    [Fact]
    public void A_consistent_sidecar_of_another_version_or_with_an_impossible_length_is_rejected()
    {
        WrittenLog log = Sealed("i.hrl", seed: 9);
        HrlIntegrity.WriteSidecar(log.Path);
        string sidecarPath = HrlIntegrity.GetSidecarPath(log.Path);
        byte[] original = File.ReadAllBytes(sidecarPath);

        byte[] older = (byte[])original.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(older.AsSpan(8), 1);
        Reseal(older);
        File.WriteAllBytes(sidecarPath, older);
        Assert.Equal("HRL integrity sidecar.Version", Assert.Throws<InvalidRecordException>(() => HrlIntegrity.ReadSidecar(log.Path)).Field);

        byte[] shortLog = (byte[])original.Clone();
        BinaryPrimitives.WriteInt64LittleEndian(shortLog.AsSpan(16), 100);
        Reseal(shortLog);
        File.WriteAllBytes(sidecarPath, shortLog);
        Assert.Equal("HRL integrity sidecar.LogLength", Assert.Throws<InvalidRecordException>(() => HrlIntegrity.ReadSidecar(log.Path)).Field);
    }

    private static void Reseal(byte[] record) =>
        BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(record.Length - 8), XxHash3.HashToUInt64(record.AsSpan(0, record.Length - 8)));

    [Fact]
    public void Missing_files_and_unsealed_logs_are_reported_as_such()
    {
        WrittenLog log = Sealed("j.hrl", seed: 10);
        ReplicationException missing = Assert.Throws<ReplicationException>(() => HrlIntegrity.VerifySidecar(log.Path));
        Assert.Equal(ReplicationErrorCode.NotFound, missing.Code);

        WrittenLog open = HrlTestLogs.Write(_temp.File("open.hrl"), new Random(1), HrlWriterOptions.Default, [2], seal: false);
        Assert.Equal("EOLLocation", Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.WriteSidecar(open.Path)).Field);
        Assert.False(File.Exists(HrlIntegrity.GetSidecarPath(open.Path)));

        string notALog = _temp.File("x.hrl");
        File.WriteAllBytes(notALog, new byte[8192]);
        Assert.Equal("Cookie", Assert.Throws<InvalidLogFormatException>(() => HrlIntegrity.WriteSidecar(notALog)).Field);
    }

    private WrittenLog Sealed(string name, int seed) =>
        HrlTestLogs.Write(_temp.File(name), new Random(seed), HrlWriterOptions.Default, [4, 9, 2], seal: true);
}
