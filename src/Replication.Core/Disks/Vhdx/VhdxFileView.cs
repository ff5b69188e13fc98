using Replication.Core.IO;

namespace Replication.Core.Disks.Vhdx;

/// <summary>
/// Reads of the image file as the VHDX code sees it: the file itself, or, for a read-only open of a file whose log
/// needs replay, the file with the log's updates laid over it in memory (the file is never written).
/// </summary>
internal sealed class VhdxFileView
{
    private readonly DiskFile _file;
    private readonly IReadOnlyList<VhdxLogOperation>? _overlay;
    private readonly long _overlayLength;

    public VhdxFileView(DiskFile file, VhdxLogReplay? overlay)
    {
        _file = file;
        if (overlay is not null)
        {
            _overlay = overlay.Operations;
            long length = Math.Max(file.Length, overlay.LastFileOffset);
            foreach (VhdxLogOperation op in overlay.Operations)
            {
                length = Math.Max(length, op.FileOffset + op.Length);
            }

            _overlayLength = length;
        }
    }

    /// <summary>The file's path.</summary>
    public string Path => _file.Path;

    /// <summary>True when reads are served through an in-memory replay of the log.</summary>
    public bool HasOverlay => _overlay is not null;

    /// <summary>Length of the file as seen through the overlay.</summary>
    public long Length => _overlay is null ? _file.Length : _overlayLength;

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes, or throws naming <paramref name="field"/> when the file is too short.</summary>
    public void Read(long offset, Span<byte> destination, string field)
    {
        if (_overlay is null)
        {
            _file.ReadExactly(offset, destination, field);
            return;
        }

        if (offset < 0 || offset > _overlayLength - destination.Length)
        {
            throw new InvalidDiskFormatException(
                _file.Path, offset, field, $"the file (with its log replayed) ends at {_overlayLength} bytes, before the {destination.Length} bytes of this structure");
        }

        // Past the physical end the replayed file would have been extended with zeros.
        _file.ReadZeroPadded(offset, destination);
        long end = offset + destination.Length;
        foreach (VhdxLogOperation op in _overlay)
        {
            long start = Math.Max(offset, op.FileOffset);
            long stop = Math.Min(end, op.FileOffset + op.Length);
            if (stop <= start)
            {
                continue;
            }

            Span<byte> target = destination.Slice((int)(start - offset), (int)(stop - start));
            if (op.Data is null)
            {
                target.Clear();
            }
            else
            {
                op.Data.AsSpan((int)(start - op.FileOffset), target.Length).CopyTo(target);
            }
        }
    }
}
