namespace Replication.Core.Disks.Conversion;

/// <summary>What a conversion or copy did.</summary>
/// <param name="VirtualSize">Virtual size of the source in bytes.</param>
/// <param name="BytesRead">Bytes read from the source (its allocated ranges only).</param>
/// <param name="BytesWritten">Non-zero bytes written to the destination.</param>
public readonly record struct DiskConversionResult(long VirtualSize, long BytesRead, long BytesWritten);
