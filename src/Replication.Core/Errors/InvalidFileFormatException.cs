using System.Globalization;

namespace Replication.Core;

/// <summary>
/// Base of the errors for a file whose bytes fail validation — a disk image, a change log, a block manifest: it names
/// the file, the byte offset in the file and the field that failed. Never recoverable by retrying: the file must be
/// repaired, rebuilt or replaced. Catch this type to handle any corrupt or hostile input alike.
/// </summary>
public abstract class InvalidFileFormatException : ReplicationException
{
    /// <summary>Creates the exception for a field at an offset of a file.</summary>
    /// <param name="filePath">The file that holds the bad structure (null for in-memory buffers).</param>
    /// <param name="offset">Byte offset in the file of the structure or field that failed.</param>
    /// <param name="field">The structure and field that failed, for example <c>VHD footer.Checksum</c>.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    protected InvalidFileFormatException(string? filePath, long offset, string field, string detail, Exception? innerException)
        : this(filePath, offset, field, field, detail, innerException)
    {
    }

    /// <summary>Creates the exception for a field whose message names it as <paramref name="described"/> (for example with its structure).</summary>
    /// <param name="filePath">The file that holds the bad structure (null for in-memory buffers).</param>
    /// <param name="offset">Byte offset in the file of the structure or field that failed.</param>
    /// <param name="field">The field that failed, as <see cref="Field"/> reports it.</param>
    /// <param name="described">How the message names the field, for example <c>HRL metadata entry DataLength</c>.</param>
    /// <param name="detail">What is wrong with it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    protected InvalidFileFormatException(string? filePath, long offset, string field, string described, string detail, Exception? innerException)
        : this(FormatMessage(filePath, offset, described, detail), filePath, offset, field, innerException)
    {
    }

    /// <summary>Creates the exception for a field at an offset of a file, with a message of its own.</summary>
    /// <param name="message">The whole message; it names the file and what is wrong.</param>
    /// <param name="filePath">The file that holds the structure (null for in-memory buffers).</param>
    /// <param name="offset">Byte offset in the file of the structure or field.</param>
    /// <param name="field">The structure and field, as <see cref="Field"/> reports it.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    protected InvalidFileFormatException(string message, string? filePath, long offset, string field, Exception? innerException)
        : base(ReplicationErrorCode.InvalidFormat, false, message, innerException)
    {
        FilePath = filePath;
        Offset = offset;
        Field = field;
    }

    /// <summary>Creates the exception with a message only (the field is unknown).</summary>
    protected InvalidFileFormatException(string message, Exception? innerException)
        : base(ReplicationErrorCode.InvalidFormat, false, message, innerException)
    {
        Field = "unknown";
    }

    /// <summary>The file that holds the bad structure, when known.</summary>
    public string? FilePath { get; }

    /// <summary>Byte offset in the file of the structure or field that failed validation.</summary>
    public long Offset { get; }

    /// <summary>The structure and field that failed validation.</summary>
    public string Field { get; }

    private static string FormatMessage(string? filePath, long offset, string field, string detail) =>
        string.Create(CultureInfo.InvariantCulture, $"{filePath ?? "<memory>"}: invalid {field} at offset {offset} (0x{offset:X}): {detail}");
}
