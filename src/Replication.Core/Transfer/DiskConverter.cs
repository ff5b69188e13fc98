using Replication.Core.Disks;
using Replication.Core.IO;

namespace Replication.Core.Transfer;

/// <summary>The conversion service (<see cref="IDiskConverter"/>). Stateless between calls; safe to share.</summary>
public sealed class DiskConverter : IDiskConverter
{
    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    /// <param name="timeProvider">The clock for progress and elapsed times; <see cref="TimeProvider.System"/> when null.</param>
    public DiskConverter(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <summary>
    /// Whether the new disk's large writes start their write-back as they are made (on unless a benchmark compares
    /// without it): the conversion flushes before it returns, and this spreads that flush over the copy.
    /// </summary>
    internal bool WriteBehind { get; init; } = true;

    /// <inheritdoc />
    public async Task<TransferResult> ConvertAsync(
        IVirtualDisk source,
        string destinationPath,
        DiskCreateOptions options,
        TransferOptions? transfer = null,
        IProgress<TransferProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(destinationPath);
        ArgumentNullException.ThrowIfNull(options);
        transfer ??= TransferOptions.Default;
        OptionFailures.ThrowIfAny(transfer.Validate(), nameof(transfer));
        if (options.VirtualSize == 0)
        {
            options = options with { VirtualSize = source.VirtualSize };
        }

        if (options.VirtualSize < source.VirtualSize)
        {
            throw new ArgumentException(
                $"The destination size {options.VirtualSize} is smaller than the source's {source.VirtualSize}.", nameof(options));
        }

        VirtualDisk destination = VirtualDisk.Create(destinationPath, options);
        destination.WriteBehind = WriteBehind;

        try
        {
            TransferResult result;
            await using (destination.ConfigureAwait(false))
            {
                var engine = new CopyEngine(
                    new DiskCopySource(source),
                    destination,
                    CopyEngine.SeedRanges(source, [new DiskExtent(0, source.VirtualSize)], 0),
                    source.VirtualSize,
                    transfer,
                    _time)
                {
                    DestinationKnownZero = true,
                    Progress = progress is null ? null : snapshot => progress.Report(new TransferProgress(snapshot)),
                };
                result = await engine.RunAsync(cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
        catch
        {
            File.Delete(destinationPath);
            throw;
        }
    }
}
