using System.Buffers.Binary;
using System.IO.Hashing;
using Replication.Core.ChangeTracking.Hrl;
using Replication.Core.Tests.Infrastructure;
using static Replication.Core.Tests.ChangeTracking.Hrl.HrlSpecLayout;

namespace Replication.Core.Tests.ChangeTracking.Hrl;

/// <summary>
/// Bad input: every field corrupted (with its checksum left stale, and recomputed so only field validation can catch
/// it), truncation at every offset of the tail, and thousands of random bit flips. A read either fails with
/// <see cref="InvalidLogFormatException"/> or returns exactly the original data, except where the format itself
/// cannot tell (a ByteOffset or TimeStamp changed together with its entry checksum: see the sidecar tests). No other
/// exception type, no allocation beyond a bound, and no more reading than a bound: the work done is counted in bytes and
/// read calls (the thread's own I/O accounting), which a busy machine cannot change, rather than timed.
/// </summary>
public sealed class HrlCorruptionTests : IDisposable
{
    private const long AllocationLimit = 8 << 20;

    /// <summary>
    /// Each byte of the log read at most this many times (the readers here read each about twice: records, then data
    /// and checksums), plus <see cref="ReadByteAllowance"/> (which also covers reading the accounting file itself).
    /// </summary>
    private const int ReadsPerByteLimit = 8;

    private const int ReadByteAllowance = 64 << 10;

    /// <summary>Read calls allowed per 512-byte sector of the log (about one is made), plus <see cref="ReadCallAllowance"/>.</summary>
    private const int ReadCallsPerSectorLimit = 4;

    private const int ReadCallAllowance = 256;

    /// <summary>Header fields no reader can validate: any value is legal (the header checksum protects them).</summary>
    private static readonly HashSet<string> FreeHeaderFields =
        ["TimeStamp", "CreatorApplication", "CreatorVersion", "ErrorCode", "UniqueId", "PreviousUniqueId", "LastModifiedTimeStamp", "Vhd2DataWriteGuid", "OriginalSize"];

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Every_header_field_corruption_is_rejected_or_only_changes_that_field()
    {
        (string path, byte[] original, Digest expected) = Sample(seal: true);
        foreach (Field field in HeaderFields)
        {
            foreach (int bit in BitsOf(field, new Random(field.Offset)))
            {
                foreach (bool restamp in new[] { false, true })
                {
                    if (restamp && field.Name == "Checksum")
                    {
                        continue;
                    }

                    byte[] bytes = (byte[])original.Clone();
                    bytes[field.Offset + (bit / 8)] ^= (byte)(1 << (bit % 8));
                    if (restamp)
                    {
                        Restamp(bytes.AsSpan(0, HeaderSize), HeaderFields);
                    }

                    File.WriteAllBytes(path, bytes);
                    (Digest? digest, InvalidLogFormatException? error) = ReadAll(path);
                    string what = $"{field.Name} bit {bit} (restamped: {restamp})";

                    // The cookie's padding byte may be a NUL or a space (the example prints "msctlog ").
                    bool spacePad = field.Name == "Cookie" && bit == 61;
                    if (!restamp)
                    {
                        Assert.True(error is not null, $"{what} was accepted");
                        string expectedField = field.Name is "Cookie" or "LogFormatVersion" && !spacePad ? field.Name : "Checksum";
                        Assert.Equal(expectedField, error.Field);
                    }
                    else if (!FreeHeaderFields.Contains(field.Name) && !spacePad)
                    {
                        Assert.True(error is not null, $"{what} was accepted");
                    }
                    else if (digest is not null)
                    {
                        Assert.Equal(expected.Records, digest.Records);
                        Assert.NotEqual(expected.Header, digest.Header);
                    }
                }
            }
        }
    }

    [Fact]
    public void Every_metadata_header_corruption_is_rejected()
    {
        (string path, byte[] original, _) = Sample(seal: true);
        foreach ((long position, _) in WalkBlocks(original))
        {
            foreach (Field field in MetadataHeaderFields)
            {
                foreach (int bit in BitsOf(field, new Random((int)position + field.Offset)))
                {
                    foreach (bool restamp in new[] { false, true })
                    {
                        byte[] bytes = (byte[])original.Clone();
                        Span<byte> header = bytes.AsSpan((int)position, 32);
                        header[field.Offset + (bit / 8)] ^= (byte)(1 << (bit % 8));
                        if (restamp && field.Name != "Checksum")
                        {
                            Restamp(header, MetadataHeaderFields);
                        }

                        File.WriteAllBytes(path, bytes);
                        Assert.True(ReadAll(path).Error is not null, $"block {position} {field.Name} bit {bit} (restamped: {restamp}) was accepted");
                    }
                }
            }
        }
    }

    [Fact]
    public void Every_entry_corruption_is_rejected_unless_the_format_cannot_tell()
    {
        (string path, byte[] original, Digest expected) = Sample(seal: true);
        int index = 0;
        var random = new Random(12);
        foreach ((long position, int count) in WalkBlocks(original))
        {
            for (int slot = 0; slot < count; slot++, index++)
            {
                int entryOffset = (int)position + 32 + (slot * 32);
                foreach (Field field in EntryFields)
                {
                    foreach (int bit in BitsOf(field, random).Take(4))
                    {
                        foreach (bool restamp in new[] { false, true })
                        {
                            byte[] bytes = (byte[])original.Clone();
                            Span<byte> entry = bytes.AsSpan(entryOffset, 32);
                            entry[field.Offset + (bit / 8)] ^= (byte)(1 << (bit % 8));
                            if (restamp && field.Name != "Checksum")
                            {
                                Restamp(entry, EntryFields);
                            }

                            File.WriteAllBytes(path, bytes);
                            (Digest? digest, _) = ReadAll(path);
                            string what = $"entry {index} {field.Name} bit {bit} (restamped: {restamp})";
                            if (digest is null)
                            {
                                continue;
                            }

                            // Accepted: only a restamped ByteOffset or TimeStamp (valid values the byte sums cannot
                            // tell from the originals), or a DataChecksum flipped to 0 ("not recorded"), may get here.
                            Assert.True(restamp, $"{what} was accepted");
                            List<Entry> changed = expected.Records.Where((r, i) => !r.Equals(digest.Records[i])).ToList();
                            switch (field.Name)
                            {
                                case "ByteOffset":
                                    Assert.Equal(expected.Records[index] with { DiskOffset = digest.Records[index].DiskOffset }, digest.Records[index]);
                                    Assert.Single(changed);
                                    break;
                                case "TimeStamp":
                                    Assert.Equal(expected.Records[index] with { Time = digest.Records[index].Time }, digest.Records[index]);
                                    Assert.Single(changed);
                                    break;
                                case "DataChecksum":
                                    Assert.Empty(changed);
                                    Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(entry[field.Offset..]));
                                    break;
                                default:
                                    Assert.Fail($"{what} was accepted");
                                    break;
                            }
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void Truncating_a_sealed_log_anywhere_in_its_last_three_records_is_rejected()
    {
        (string path, byte[] original, _) = Sample(seal: true);
        long from = TailStart(original, records: 3);
        for (long length = original.Length - 1; length >= from; length--)
        {
            Truncate(path, length);
            InvalidLogFormatException error = Assert.IsType<InvalidLogFormatException>(ReadAll(path).Error);
            Assert.Equal("EOLLocation", error.Field);
        }

        foreach (int length in new[] { 0, 1, 100, HeaderSize - 1 })
        {
            File.WriteAllBytes(path, original.AsSpan(0, length).ToArray());
            Assert.NotNull(ReadAll(path).Error);
        }
    }

    [Fact]
    public void Truncating_an_unsealed_log_anywhere_in_its_last_three_records_recovers_the_complete_batches()
    {
        (string path, byte[] original, _) = Sample(seal: false);
        List<Entry> all = RecoverAll(path).Records;
        var blockEnds = new List<(long End, int Records)>();
        int running = 0;
        foreach ((long position, int count) in WalkUnsealedBlocks(original))
        {
            running += count;
            blockEnds.Add((position + 512, running));
        }

        long from = TailStartUnsealed(original, 3);
        for (long length = original.Length - 1; length >= from; length--)
        {
            Truncate(path, length);
            Recovered recovered = RecoverAll(path);
            (long validEnd, int expectedCount) = blockEnds.Where(b => b.End <= length).DefaultIfEmpty((HeaderSize, 0)).Last();
            Assert.Equal(expectedCount, recovered.Records.Count);
            Assert.Equal(all.Take(expectedCount), recovered.Records);
            Assert.Equal(new HrlRecoveryResult(validEnd, length, recovered.Result.BlockCount, expectedCount), recovered.Result);
            Assert.Equal(length - validEnd, recovered.Result.TornBytes);
        }
    }

    [Fact]
    public void Random_bit_flips_in_a_sealed_log_are_all_detected_outside_unused_metadata_slots()
    {
        (string path, byte[] original, Digest expected) = Sample(seal: true);
        var unused = WalkBlocks(original).Select(b => (Start: b.Position + 32 + (b.Count * 32), End: b.Position + 512)).ToList();
        var random = new Random(2024);
        int detected = 0;
        for (int i = 0; i < 3000; i++)
        {
            long offset = random.NextInt64(original.Length);
            byte flipped = (byte)(original[offset] ^ (1 << random.Next(8)));
            WriteByte(path, offset, flipped);
            (Digest? digest, _) = ReadAll(path);
            WriteByte(path, offset, original[offset]);

            bool inUnusedSlot = unused.Any(u => offset >= u.Start && offset < u.End);
            if (digest is null)
            {
                detected++;
                continue;
            }

            // Bytes no structure covers carry no information: the log must read exactly as before.
            Assert.True(inUnusedSlot, $"a flip at {offset} was accepted");
            Assert.Equal(expected.Records, digest.Records);
        }

        Assert.True(detected > 2500, $"{detected} of 3000 flips detected");
    }

    [Fact]
    public void Random_bit_flips_in_an_unsealed_log_never_recover_different_data()
    {
        (string path, byte[] original, _) = Sample(seal: false);
        List<Entry> all = RecoverAll(path).Records;
        var random = new Random(77);
        for (int i = 0; i < 1500; i++)
        {
            long offset = random.NextInt64(original.Length);
            WriteByte(path, offset, (byte)(original[offset] ^ (1 << random.Next(8))));
            Recovered? recovered = TryRecoverAll(path);
            WriteByte(path, offset, original[offset]);
            if (recovered is null)
            {
                // Only the header can make the log unreadable.
                Assert.True(offset < HeaderSize, $"a flip at {offset} made the log unreadable");
                continue;
            }

            Assert.Equal(all.Take(recovered.Records.Count), recovered.Records);
        }
    }

    [Fact]
    public void Hostile_sizes_with_valid_checksums_are_rejected_without_large_allocations()
    {
        (string path, byte[] original, _) = Sample(seal: true);
        var cases = new (Field Field, int Block, ulong Value)[]
        {
            (Header("EOLLocation"), -1, 1UL << 62),
            (Header("EOLLocation"), -1, ulong.MaxValue - 511),
            (Header("MetadataSize"), -1, 1u << 20),
            (Header("MetadataSize"), -1, uint.MaxValue - 511),
            (Header("CurrentSize"), -1, ulong.MaxValue),
            (Header("TotalMetadataEntries"), -1, ulong.MaxValue),
            (MetadataHeader("ValidMetadataEntries"), 0, uint.MaxValue),
            (MetadataHeader("ValidMetadataEntries"), 0, 15),
            (MetadataHeader("PreviousMetadataLocation"), 2, ulong.MaxValue - 511),
            (MetadataHeader("PreviousMetadataLocation"), 2, 512),
            (Entry("DataLength"), 1, 0xFFFF_FE00),
            (Entry("ByteOffset"), 1, ulong.MaxValue - 511),
        };
        List<(long Position, int Count)> blocks = WalkBlocks(original);
        foreach ((Field field, int block, ulong value) in cases)
        {
            byte[] bytes = (byte[])original.Clone();
            Span<byte> structure = block < 0
                ? bytes.AsSpan(0, HeaderSize)
                : field.Name is "DataLength" or "ByteOffset"
                    ? bytes.AsSpan((int)blocks[block].Position + 32, 32)
                    : bytes.AsSpan((int)blocks[block].Position, 32);
            Field[] table = block < 0 ? HeaderFields : field.Name is "DataLength" or "ByteOffset" ? EntryFields : MetadataHeaderFields;
            if (field.Size == 8)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(structure[field.Offset..], value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(structure[field.Offset..], (uint)value);
            }

            Restamp(structure, table);
            File.WriteAllBytes(path, bytes);
            Assert.True(ReadAll(path).Error is not null, $"{field.Name} = {value} was accepted");

            // The forward scan meets the same values: it may reject the header or recover a prefix, within bounds.
            _ = TryRecoverAll(path);
        }
    }

    /// <summary>A sealed or unsealed log of several blocks (15 entries each), some batches split.</summary>
    private (string Path, byte[] Bytes, Digest Digest) Sample(bool seal)
    {
        string path = _temp.File(seal ? "sealed.hrl" : "open.hrl");
        HrlTestLogs.Write(path, new Random(31), new HrlWriterOptions { MetadataSize = 512, BufferSize = 4096 }, [3, 18, 1, 4], seal, maxSectors: 4);
        byte[] bytes = File.ReadAllBytes(path);
        Digest digest = seal ? ReadAll(path).Digest! : new Digest(RecoverAll(path).Records, default);
        return (path, bytes, digest);
    }

    /// <summary>Bits to flip in a field: all of a small one, a seeded sample of a large one.</summary>
    private static IEnumerable<int> BitsOf(Field field, Random random)
    {
        int bits = field.Size * 8;
        return bits <= 64 ? Enumerable.Range(0, bits).OrderBy(_ => random.Next()) : Enumerable.Range(0, 24).Select(_ => random.Next(bits));
    }

    private static long TailStart(byte[] log, int records)
    {
        List<(long Position, int Count)> blocks = WalkBlocks(log);
        return StartOfLastRecords(log, blocks, records);
    }

    private static long TailStartUnsealed(byte[] log, int records) => StartOfLastRecords(log, WalkUnsealedBlocks(log), records);

    private static long StartOfLastRecords(byte[] log, List<(long Position, int Count)> blocks, int records)
    {
        (long position, int count) = blocks[^1];
        Assert.True(count >= records);
        long start = position;
        for (int slot = count - records; slot < count; slot++)
        {
            start -= BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan((int)position + 32 + (slot * 32) + Entry("DataLength").Offset));
        }

        return start;
    }

    /// <summary>The blocks of a trusted unsealed log: its last block ends the file.</summary>
    private static List<(long Position, int Count)> WalkUnsealedBlocks(byte[] log)
    {
        byte[] copy = (byte[])log.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(Header("EOLLocation").Offset), (ulong)log.Length);
        return WalkBlocks(copy);
    }

    private static (Digest? Digest, InvalidLogFormatException? Error) ReadAll(string path)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        ThreadReads reads = ThreadReads.Now();
        try
        {
            using HrlReader reader = HrlReader.Open(path);
            var records = new List<Entry>();
            foreach (HrlRecord record in reader.ReadRecords())
            {
                byte[] data = new byte[record.Length];
                reader.ReadData(record, data);
                records.Add(new Entry(record.DiskOffset, record.Length, record.Timestamp, XxHash128.HashToUInt128(data)));
            }

            reader.VerifyData();
            return (new Digest(records, reader.Header), null);
        }
        catch (InvalidLogFormatException ex)
        {
            return (null, ex);
        }
        finally
        {
            CheckBounds(path, allocated, reads);
        }
    }

    private static Recovered RecoverAll(string path) => TryRecoverAll(path) ?? throw new InvalidOperationException("unreadable");

    private static Recovered? TryRecoverAll(string path)
    {
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        ThreadReads reads = ThreadReads.Now();
        HrlReader reader;
        try
        {
            reader = HrlReader.Open(path);
        }
        catch (InvalidLogFormatException)
        {
            return null;
        }

        using (reader)
        {
            HrlRecoveryResult result = reader.Recover();
            var records = new List<Entry>();
            foreach (HrlRecord record in reader.ReadRecords(result))
            {
                byte[] data = new byte[record.Length];
                reader.ReadData(record, data);
                records.Add(new Entry(record.DiskOffset, record.Length, record.Timestamp, XxHash128.HashToUInt128(data)));
            }

            CheckBounds(path, allocated, reads);
            return new Recovered(result, records);
        }
    }

    private static void CheckBounds(string path, long allocatedBefore, ThreadReads readsBefore)
    {
        ThreadReads reads = ThreadReads.Now() - readsBefore;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        long length = new FileInfo(path).Length;
        Assert.True(allocated < AllocationLimit, $"{allocated} bytes allocated reading a small log");
        Assert.True(reads.Bytes <= ReadByteAllowance + (ReadsPerByteLimit * length), $"{reads.Bytes} bytes read from a {length}-byte log");
        Assert.True(reads.Calls <= ReadCallAllowance + (ReadCallsPerSectorLimit * (length / 512)), $"{reads.Calls} read calls for a {length}-byte log");
    }

    /// <summary>Writes one byte in place (the handle is closed before the reader opens the file).</summary>
    private static void WriteByte(string path, long offset, byte value)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(handle, [value], offset);
    }

    private static void Truncate(string path, long length)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.SetLength(handle, length);
    }

    private sealed record Entry(long DiskOffset, long Length, DateTimeOffset Time, UInt128 Hash);

    private sealed record Digest(List<Entry> Records, HrlFileHeader Header);

    private sealed record Recovered(HrlRecoveryResult Result, List<Entry> Records);
}
