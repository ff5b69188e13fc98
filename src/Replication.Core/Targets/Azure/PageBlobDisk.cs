using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Replication.Core.Disks;
using System.Runtime.CompilerServices;

namespace Replication.Core.Targets.Azure;

/// <summary>
/// A page blob holding a fixed VHD (or one of its snapshots), read-only: the data before the 512-byte footer. Extents
/// come from Get Page Ranges, so a copy reads only the pages that were ever written. Each read is one request; a
/// failure is thrown as a typed, classified error for the caller (the transfer pipeline) to retry.
/// </summary>
internal sealed class PageBlobDisk : ReadOnlyReplicaDisk
{
    private readonly PageBlobClient _blob;
    private readonly string _location;

    private PageBlobDisk(PageBlobClient blob, string location, long virtualSize)
    {
        _blob = blob;
        _location = location;
        VirtualSize = virtualSize;
    }

    public override DiskFormat Format => DiskFormat.Vhd;

    public override long VirtualSize { get; }

    public override int LogicalSectorSize => 512;

    public override int BlockSize => 512;

    public override long AllocatedBytes => GetAllocatedExtentsCore(0, VirtualSize).Sum(e => e.Length);

    /// <summary>Opens the blob after checking its footer.</summary>
    public static async ValueTask<PageBlobDisk> OpenAsync(PageBlobClient blob, string location, CancellationToken cancellationToken)
    {
        long virtualSize = await ReadFooterAsync(blob, location, cancellationToken).ConfigureAwait(false);
        return new PageBlobDisk(blob, location, virtualSize);
    }

    /// <summary>Reads and checks the fixed VHD footer at the end of the blob; returns the disk's virtual size.</summary>
    public static async ValueTask<long> ReadFooterAsync(PageBlobClient blob, string location, CancellationToken cancellationToken)
    {
        try
        {
            BlobProperties properties = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            long length = properties.ContentLength;
            if (length < 1024 || length % 512 != 0)
            {
                throw new InvalidDiskFormatException(location, length, "page blob length", $"{length} bytes cannot hold a disk and a 512-byte VHD footer");
            }

            byte[] footer = new byte[FixedVhdFooter.Size];
            await ReadRangeAsync(blob, length - FixedVhdFooter.Size, footer, cancellationToken).ConfigureAwait(false);
            if (!FixedVhdFooter.TryRead(footer, out long size, out string problem))
            {
                throw new InvalidDiskFormatException(location, length - FixedVhdFooter.Size, "VHD footer", problem);
            }

            if (size != length - FixedVhdFooter.Size)
            {
                throw new InvalidDiskFormatException(location, length - FixedVhdFooter.Size, "VHD footer.CurrentSize", $"says {size} bytes but the blob holds {length - FixedVhdFooter.Size} before the footer");
            }

            return size;
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, location, "reading the replica's footer", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask ReadCoreAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            await ReadRangeAsync(_blob, offset, destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, _location, "a read", cancellationToken, out ReplicaTargetException mapped))
        {
            throw mapped;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal static async ValueTask ReadRangeAsync(PageBlobClient blob, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var options = new BlobDownloadOptions { Range = new HttpRange(offset, destination.Length) };
        using BlobDownloadStreamingResult result = (await blob.DownloadStreamingAsync(options, cancellationToken).ConfigureAwait(false)).Value;
        await result.Content.ReadExactlyAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    protected override void ReadCore(long offset, Span<byte> destination)
    {
        try
        {
            var options = new BlobDownloadOptions { Range = new HttpRange(offset, destination.Length) };
            using BlobDownloadStreamingResult result = _blob.DownloadStreaming(options).Value;
            result.Content.ReadExactly(destination);
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, _location, "a read", CancellationToken.None, out ReplicaTargetException mapped))
        {
            throw mapped;
        }
    }

    protected override IEnumerable<DiskExtent> GetAllocatedExtentsCore(long offset, long length) => PageRanges(_blob, _location, offset, length);

    /// <summary>The written (not cleared) page ranges of the blob inside [offset, offset + length), merged, ascending.</summary>
    internal static List<DiskExtent> PageRanges(PageBlobClient blob, string location, long offset, long length)
    {
        var ranges = new List<DiskExtent>();
        try
        {
            foreach (PageRangeItem item in blob.GetAllPageRanges(new GetPageRangesOptions { Range = new HttpRange(offset, length) }))
            {
                if (item.IsClear)
                {
                    continue;
                }

                DiskExtent clipped = new DiskExtent(item.Range.Offset, item.Range.Length ?? length).Intersect(offset, length);
                if (clipped.Length == 0)
                {
                    continue;
                }

                if (ranges.Count > 0 && ranges[^1].End >= clipped.Offset)
                {
                    DiskExtent last = ranges[^1];
                    ranges[^1] = new DiskExtent(last.Offset, Math.Max(last.End, clipped.End) - last.Offset);
                }
                else
                {
                    ranges.Add(clipped);
                }
            }
        }
        catch (Exception ex) when (AzureErrors.TryMap(ex, location, "listing page ranges", CancellationToken.None, out ReplicaTargetException mapped))
        {
            throw mapped;
        }

        return ranges;
    }

    protected override void Dispose(bool disposing)
    {
    }
}
