using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Replication.Core.ChangeTracking.Hrl;

/// <summary>
/// The [MS-HRL] section 2.6 checksum: the one's complement of the 32-bit (wrapping) sum of every byte of a buffer,
/// the bytes of the checksum field itself left out. Used for the file header, metadata headers, metadata entries
/// and (as <c>DataChecksum</c>) the data of each entry.
/// </summary>
/// <remarks>
/// The sum is order-insensitive, so it catches any single changed byte (and any single flipped bit) but not swapped
/// bytes; the strong check of a whole log is <see cref="HrlIntegrity"/>.
/// </remarks>
internal static class HrlChecksum
{
    /// <summary>The checksum of a whole buffer (as for <c>DataChecksum</c>).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Sum(data);

    /// <summary>The checksum of a structure whose 4-byte checksum field at <paramref name="checksumOffset"/> is left out.</summary>
    public static uint Compute(ReadOnlySpan<byte> structure, int checksumOffset)
    {
        ReadOnlySpan<byte> field = structure.Slice(checksumOffset, sizeof(uint));
        uint fieldSum = (uint)field[0] + field[1] + field[2] + field[3];
        return ~(Sum(structure) - fieldSum);
    }

    /// <summary>The 32-bit wrapping sum of the bytes; sums of adjacent ranges add up (modulo 2^32).</summary>
    public static uint Sum(ReadOnlySpan<byte> data)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        int i = 0;
        uint total = 0;

        if (Avx2.IsSupported && length >= Vector256<byte>.Count)
        {
            // vpsadbw against zero adds each group of 8 bytes into a 64-bit lane: one instruction per 32 bytes.
            Vector256<ulong> accumulator = Vector256<ulong>.Zero;
            for (; i <= length - Vector256<byte>.Count; i += Vector256<byte>.Count)
            {
                Vector256<byte> bytes = Vector256.LoadUnsafe(ref start, (nuint)i);
                accumulator += Avx2.SumAbsoluteDifferences(bytes, Vector256<byte>.Zero).AsUInt64();
            }

            total = (uint)Vector256.Sum(accumulator);
        }
        else if (Sse2.IsSupported && length >= Vector128<byte>.Count)
        {
            Vector128<ulong> accumulator = Vector128<ulong>.Zero;
            for (; i <= length - Vector128<byte>.Count; i += Vector128<byte>.Count)
            {
                Vector128<byte> bytes = Vector128.LoadUnsafe(ref start, (nuint)i);
                accumulator += Sse2.SumAbsoluteDifferences(bytes, Vector128<byte>.Zero).AsUInt64();
            }

            total = (uint)Vector128.Sum(accumulator);
        }
        else if (Vector128.IsHardwareAccelerated && length >= Vector128<byte>.Count)
        {
            total = SumWidening(ref start, length, ref i);
        }

        for (; i < length; i++)
        {
            total += Unsafe.Add(ref start, i);
        }

        return total;
    }

    /// <summary>The portable vector path alone (what Arm runs), so x86 test machines can check it too.</summary>
    internal static uint SumPortable(ReadOnlySpan<byte> data)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        int i = 0;
        uint total = data.Length >= Vector128<byte>.Count ? SumWidening(ref start, data.Length, ref i) : 0;
        for (; i < data.Length; i++)
        {
            total += Unsafe.Add(ref start, i);
        }

        return total;
    }

    /// <summary>Portable path (Arm and others): widen bytes into 16-bit lanes, then into 32-bit lanes before they overflow.</summary>
    private static uint SumWidening(ref byte start, int length, ref int i)
    {
        // Each step adds at most 2 × 255 to a 16-bit lane, so 128 steps stay below 65 536.
        const int StepsPerFold = 128;
        Vector128<uint> accumulator = Vector128<uint>.Zero;
        while (i <= length - Vector128<byte>.Count)
        {
            Vector128<ushort> partial = Vector128<ushort>.Zero;
            for (int step = 0; step < StepsPerFold && i <= length - Vector128<byte>.Count; step++, i += Vector128<byte>.Count)
            {
                Vector128<byte> bytes = Vector128.LoadUnsafe(ref start, (nuint)i);
                (Vector128<ushort> lower, Vector128<ushort> upper) = Vector128.Widen(bytes);
                partial += lower + upper;
            }

            (Vector128<uint> lowerSum, Vector128<uint> upperSum) = Vector128.Widen(partial);
            accumulator += lowerSum + upperSum;
        }

        return Vector128.Sum(accumulator);
    }
}
