namespace Replication.Core.Disks.Vhd;

/// <summary>
/// A validation failure found while parsing a structure from bytes, before the structure's place in the file is
/// known: <see cref="ToException"/> adds the file and the structure's offset.
/// </summary>
/// <param name="FieldOffset">Offset of the failing field inside its structure.</param>
/// <param name="Field">Structure and field name, for example "VHD footer.Checksum".</param>
/// <param name="Detail">What is wrong with the field.</param>
internal readonly record struct VhdFieldError(int FieldOffset, string Field, string Detail)
{
    /// <summary>The exception for this failure in a structure that starts at <paramref name="structureOffset"/> in the file.</summary>
    public InvalidDiskFormatException ToException(string? filePath, long structureOffset) =>
        new(filePath, structureOffset + FieldOffset, Field, Detail);
}
