namespace Replication.Core;

/// <summary>
/// A disk image is in a format this library recognises by its signature but does not read (qcow2, VMDK, VDI, QED): it
/// is refused by name rather than opened as a raw image of the container's bytes. The message names the file and the
/// format, and lists the formats that are read. Convert the image first (for example with <c>qemu-img convert -O vhdx</c>).
/// </summary>
public sealed class UnsupportedDiskFormatException : InvalidDiskFormatException
{
    /// <summary>Creates the exception for an image whose signature at offset 0 names another format.</summary>
    /// <param name="filePath">The image file.</param>
    /// <param name="formatName">The format its signature names, as its users write it (<c>qcow2</c>, <c>VMDK</c>, <c>VDI</c>).</param>
    public UnsupportedDiskFormatException(string? filePath, string formatName)
        : base(
            $"{filePath ?? "<memory>"}: {formatName} is not supported (raw, VHD, VHDX are); convert it first, for example with 'qemu-img convert -O vhdx'.",
            filePath,
            0,
            "file signature")
    {
        FormatName = formatName;
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public UnsupportedDiskFormatException()
        : this(null, "this format")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public UnsupportedDiskFormatException(string message)
        : base(message)
    {
        FormatName = "unknown";
    }

    /// <summary>Creates the exception with a message only.</summary>
    public UnsupportedDiskFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        FormatName = "unknown";
    }

    /// <summary>The format the image's signature names.</summary>
    public string FormatName { get; }
}
