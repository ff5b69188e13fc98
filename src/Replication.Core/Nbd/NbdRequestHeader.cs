using System.Buffers;
using System.Buffers.Binary;

namespace Replication.Core.Nbd;

/// <summary>
/// A transmission request header (28 bytes, big-endian): magic, command flags, type, cookie (handle), offset, length.
/// A write's payload follows it.
/// </summary>
/// <param name="Magic">The request magic (<see cref="NbdProtocol.RequestMagic"/> in a valid request).</param>
/// <param name="Flags">The command flags.</param>
/// <param name="Type">The command.</param>
/// <param name="Handle">The client's cookie, echoed in every reply to this request.</param>
/// <param name="Offset">Where the command starts on the export.</param>
/// <param name="Length">How many bytes it covers.</param>
internal readonly record struct NbdRequestHeader(uint Magic, ushort Flags, ushort Type, ulong Handle, ulong Offset, uint Length)
{
    private const int MagicOffset = 0;
    private const int FlagsOffset = 4;
    private const int TypeOffset = 6;
    private const int HandleOffset = 8;
    private const int OffsetOffset = 16;
    private const int LengthOffset = 24;

    /// <summary>Reads a header from the start of <paramref name="source"/> (at least 28 bytes).</summary>
    public static NbdRequestHeader Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt32BigEndian(source[MagicOffset..]),
        BinaryPrimitives.ReadUInt16BigEndian(source[FlagsOffset..]),
        BinaryPrimitives.ReadUInt16BigEndian(source[TypeOffset..]),
        BinaryPrimitives.ReadUInt64BigEndian(source[HandleOffset..]),
        BinaryPrimitives.ReadUInt64BigEndian(source[OffsetOffset..]),
        BinaryPrimitives.ReadUInt32BigEndian(source[LengthOffset..]));

    /// <summary>
    /// Reads a header from the start of <paramref name="buffer"/> when it holds 28 bytes: straight from the first
    /// segment when it is long enough (no copy), otherwise from a copy of the 28 bytes spread over segments.
    /// </summary>
    public static bool TryRead(in ReadOnlySequence<byte> buffer, out NbdRequestHeader header)
    {
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= NbdProtocol.RequestHeaderSize)
        {
            header = Read(first);
            return true;
        }

        return TryReadMultiSegment(buffer, out header);
    }

    private static bool TryReadMultiSegment(in ReadOnlySequence<byte> buffer, out NbdRequestHeader header)
    {
        if (buffer.Length < NbdProtocol.RequestHeaderSize)
        {
            header = default;
            return false;
        }

        Span<byte> copy = stackalloc byte[NbdProtocol.RequestHeaderSize];
        buffer.Slice(0, NbdProtocol.RequestHeaderSize).CopyTo(copy);
        header = Read(copy);
        return true;
    }

    /// <summary>Writes the header (for clients and tests).</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination[MagicOffset..], Magic);
        BinaryPrimitives.WriteUInt16BigEndian(destination[FlagsOffset..], Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[TypeOffset..], Type);
        BinaryPrimitives.WriteUInt64BigEndian(destination[HandleOffset..], Handle);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffsetOffset..], Offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[LengthOffset..], Length);
    }
}
