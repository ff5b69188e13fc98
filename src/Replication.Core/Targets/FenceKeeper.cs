using Replication.Core.Disks;

namespace Replication.Core.Targets;

/// <summary>
/// Keeps a replica writer's fence (a blob lease, a local fence) alive for as long as the writer is open: it renews the
/// fence every third of its duration, whatever the writer is doing meanwhile (hashing a disk for a resync, waiting for a
/// checkpoint, creating a recovery point). A renewal that fails with a recoverable error is tried again at the next
/// tick; one that finds the fence lost or lapsed ends the keeping, and the writer refuses its next request with
/// <see cref="ReplicationErrorCode.FenceLost"/>. A fence without an expiry needs no keeping.
/// </summary>
internal sealed class FenceKeeper : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PeriodicTimer? _timer;
    private readonly Task _keeping;

    /// <param name="writer">The writer whose fence is kept; its <see cref="IDiskSink.FenceExpiresAt"/> is read now.</param>
    /// <param name="duration">How long the fence lasts once renewed (infinite: nothing to keep).</param>
    /// <param name="time">The clock the fence's expiry is measured on.</param>
    public FenceKeeper(IDiskSink writer, TimeSpan duration, TimeProvider time)
    {
        if (writer.FenceExpiresAt is null || duration == Timeout.InfiniteTimeSpan)
        {
            _keeping = Task.CompletedTask;
            return;
        }

        // The timer exists from here on, so a tick due while the loop below is still starting is not missed.
        _timer = new PeriodicTimer(duration / 3, time);
        _keeping = Task.Run(() => KeepAsync(writer, _timer, time, _stop.Token));
    }

    private static async Task KeepAsync(IDiskSink writer, PeriodicTimer timer, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (writer.FenceExpiresAt is not { } expires || time.GetUtcNow() >= expires)
                {
                    // Lapsed (the process was stopped, or renewals failed): never renewed after the fact.
                    return;
                }

                try
                {
                    await writer.RenewAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (ReplicationException ex) when (!ex.IsRecoverable)
                {
                    // Fenced off, or lapsed: the writer knows and refuses its next request.
                    return;
                }
                catch (Exception ex) when (ex is ReplicationException or IOException or TimeoutException or HttpRequestException)
                {
                    // Unreachable for now: try again at the next tick.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The writer is closing.
        }
    }

    /// <summary>Stops keeping the fence (before the writer releases it).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _keeping.ConfigureAwait(false);
        _timer?.Dispose();
        _stop.Dispose();
    }
}
