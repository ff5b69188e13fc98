using Replication.Core.IO;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// The two header slots of an open file: which one is current, and the update procedure of [MS-VHDX] 2.2.2.1
/// (write the non-current slot with the next sequence number and flush, so a torn write never loses the current
/// header). Callers serialise updates; <see cref="Current"/> may be read from any thread.
/// </summary>
internal sealed class VhdxHeaderSlots
{
    private static readonly long[] SlotOffsets = [VhdxLayout.Header1Offset, VhdxLayout.Header2Offset];

    private readonly DiskFile _file;
    private readonly Guid _sessionFileWriteGuid = Guid.NewGuid();
    private volatile State _state;

    private VhdxHeaderSlots(DiskFile file, State state)
    {
        _file = file;
        _state = state;
    }

    /// <summary>The current header.</summary>
    public VhdxHeader Current => _state.Header;

    /// <summary>0 for the header at 64 KiB, 1 for the one at 128 KiB.</summary>
    public int CurrentSlot => _state.Slot;

    /// <summary>True once this session has written a header (and so renewed FileWriteGuid).</summary>
    public bool HasUpdated { get; private set; }

    /// <summary>The field name prefix of a slot, as used in error messages.</summary>
    public static string SlotName(int slot) => $"VHDX header {slot + 1}";

    /// <summary>
    /// Reads both headers and picks the current one: the only valid one, or the valid one with the higher sequence
    /// number. Then validates its fields against the file.
    /// </summary>
    /// <exception cref="InvalidDiskFormatException">No header is current, or the current one has an invalid field.</exception>
    public static VhdxHeaderSlots Read(DiskFile file)
    {
        byte[] buffer = new byte[VhdxLayout.HeaderSize];
        var valid = new bool[2];
        var headers = new VhdxHeader[2];
        var failures = new string[2];
        var raw = new byte[2][];
        for (int slot = 0; slot < 2; slot++)
        {
            file.ReadExactly(SlotOffsets[slot], buffer, SlotName(slot));
            valid[slot] = VhdxHeader.TryRead(buffer, out headers[slot], out failures[slot]);
            raw[slot] = (byte[])buffer.Clone();
        }

        int current;
        if (valid[0] && valid[1])
        {
            if (headers[0].SequenceNumber == headers[1].SequenceNumber)
            {
                // Disk2VHD writes two identical headers; identical copies are not a conflict.
                if (!raw[0].AsSpan().SequenceEqual(raw[1]))
                {
                    throw new InvalidDiskFormatException(
                        file.Path,
                        VhdxLayout.Header2Offset + VhdxHeader.SequenceNumberOffset,
                        SlotName(1) + ".SequenceNumber",
                        $"both headers are valid, differ, and have the same sequence number {headers[1].SequenceNumber}, so neither is current");
                }

                current = 0;
            }
            else
            {
                current = headers[0].SequenceNumber > headers[1].SequenceNumber ? 0 : 1;
            }
        }
        else if (valid[0] || valid[1])
        {
            current = valid[0] ? 0 : 1;
        }
        else
        {
            throw new InvalidDiskFormatException(
                file.Path,
                VhdxLayout.Header1Offset,
                $"{SlotName(0)}.{failures[0]}",
                $"no valid header: header 1 has a bad {failures[0]} and header 2 has a bad {failures[1]}");
        }

        Validate(file, headers[current], current);
        return new VhdxHeaderSlots(file, new State(headers[current], current));
    }

    /// <summary>
    /// Writes <paramref name="change"/> applied to the current header into the other slot with the next sequence
    /// number and this session's FileWriteGuid, flushes, and then does the same again so both slots hold the new
    /// content (the specification's recommendation: a later torn write still leaves a copy).
    /// </summary>
    public void Update(Func<VhdxHeader, VhdxHeader> change)
    {
        VhdxHeader updated = change(Current) with { FileWriteGuid = _sessionFileWriteGuid };
        byte[] buffer = new byte[VhdxLayout.HeaderSize];
        for (int copy = 0; copy < 2; copy++)
        {
            State state = _state;
            int slot = 1 - state.Slot;
            VhdxHeader next = updated with { SequenceNumber = state.Header.SequenceNumber + 1 };
            next.WriteTo(buffer);
            _file.Write(SlotOffsets[slot], buffer);
            _file.Flush();
            _state = new State(next, slot);
            HasUpdated = true;
        }
    }

    private static void Validate(DiskFile file, VhdxHeader header, int slot)
    {
        long at = SlotOffsets[slot];
        string name = SlotName(slot);
        if (header.Version != VhdxHeader.CurrentVersion)
        {
            throw new InvalidDiskFormatException(file.Path, at + VhdxHeader.VersionOffset, name + ".Version", $"version {header.Version} is not the supported version 1");
        }

        if (header.LogGuid != Guid.Empty && header.LogVersion != 0)
        {
            throw new InvalidDiskFormatException(file.Path, at + VhdxHeader.LogVersionOffset, name + ".LogVersion", $"log version {header.LogVersion} is not 0 and the log is not empty");
        }

        if (!VhdxLayout.IsAligned(header.LogLength, VhdxLayout.MiB))
        {
            throw new InvalidDiskFormatException(file.Path, at + VhdxHeader.LogLengthOffset, name + ".LogLength", $"{header.LogLength} is not a multiple of 1 MiB");
        }

        if (header.LogOffset > VhdxLayout.MaxFileOffset
            || !VhdxLayout.IsAligned((long)header.LogOffset, VhdxLayout.MiB)
            || (header.LogLength != 0 && header.LogOffset < VhdxLayout.HeaderSectionSize))
        {
            throw new InvalidDiskFormatException(
                file.Path, at + VhdxHeader.LogOffsetOffset, name + ".LogOffset", $"{header.LogOffset} is not a 1 MiB-aligned offset after the header section");
        }

        VhdxLayout.CheckInsideFile(file.Path, at + VhdxHeader.LogLengthOffset, name + ".LogLength", "log", header.LogOffset, header.LogLength, file.Length);
        if (header.LogGuid != Guid.Empty && (header.LogLength == 0 || header.LogLength > VhdxLayout.MaxReplayLogLength))
        {
            throw new InvalidDiskFormatException(
                file.Path,
                at + VhdxHeader.LogLengthOffset,
                name + ".LogLength",
                $"the log needs replay but its length {header.LogLength} is not between 1 MiB and the {VhdxLayout.MaxReplayLogLength}-byte maximum this implementation replays");
        }
    }

    private sealed record State(VhdxHeader Header, int Slot);
}
