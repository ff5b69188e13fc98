using System.Globalization;
using Replication.Core.IO;

namespace Replication.Core.Targets.Local;

/// <summary>
/// The local target's writer fence: a 64-byte state file (epoch, holder, lease expiry, checksum) guarded by flock(2).
/// Changing hands takes the exclusive lock; every change a writer makes runs while its process holds the shared lock
/// and has seen its own epoch in the file, so a writer that was superseded cannot change anything after the takeover,
/// and a takeover waits for the changes already in flight. A writer also stops by itself once its lease has lapsed.
/// </summary>
/// <remarks>
/// State: one durable record (<see cref="RecordFormat"/>, magic "REPLFNCE", version 2) of 56 bytes whose payload is the
/// epoch i64, the lease expiry (UTC ticks; 0 released, max never) i64 and the holder Guid. Written in place in one
/// sector and fsynced.
/// A holder also keeps an exclusive flock(2) on its own file <c>fence.HOLDER.holder</c> for as long as it lives, taken
/// before the state names it: the kernel drops that lock when the process dies, so a fence whose holder's lock is free
/// was left by a process that is gone (killed, crashed) and is taken over without waiting for its lease to lapse.
/// </remarks>
internal sealed class LocalFence : IDisposable
{
    private const int PayloadSize = 32;
    private static readonly RecordFormat Format = new("fence state", "REPLFNCE"u8, version: 2, PayloadSize, PayloadSize);
    private static readonly int StateSize = RecordFormat.SizeFor(PayloadSize);

    private readonly LockFile _file;
    private readonly LockFile _holderLock;
    private readonly Guid _holder;
    private readonly TimeSpan _duration;

    /// <summary>How long the fence lasts once taken or renewed.</summary>
    public TimeSpan Duration => _duration;
    private readonly TimeSpan _lockWait;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _active;
    private bool _lost;
    private string? _lostReason;

    private LocalFence(LockFile file, LockFile holderLock, long epoch, Guid holder, DateTimeOffset? expiresAt, TimeSpan duration, TimeSpan lockWait, TimeProvider time)
    {
        _file = file;
        _holderLock = holderLock;
        Epoch = epoch;
        _holder = holder;
        ExpiresAt = expiresAt;
        _duration = duration;
        _lockWait = lockWait;
        _time = time;
    }

    public long Epoch { get; }

    public DateTimeOffset? ExpiresAt { get; private set; }

    public static async ValueTask<LocalFence> AcquireAsync(
        string path, TimeSpan duration, TimeSpan lockWait, bool breakExisting, TimeProvider time, CancellationToken cancellationToken)
    {
        LockFile file = LockFile.Open(path, out bool created);
        try
        {
            if (!await file.TryLockAsync(exclusive: true, lockWait, cancellationToken).ConfigureAwait(false))
            {
                throw new ReplicaTargetException(
                    ReplicationErrorCode.FenceHeld, true, $"{path}: another writer is changing the replica; its changes did not finish within {lockWait.TotalSeconds:0.#} s.");
            }

            try
            {
                State state = ReadState(file, path);
                DateTimeOffset now = time.GetUtcNow();
                if (state.Holds(now) && !await IsHolderGoneAsync(path, state.Holder, cancellationToken).ConfigureAwait(false) && !breakExisting)
                {
                    string until = state.ExpiresTicks == long.MaxValue ? "until it releases it" : $"until {new DateTimeOffset(state.ExpiresTicks, TimeSpan.Zero):O} unless it renews it";
                    throw new ReplicaTargetException(ReplicationErrorCode.FenceHeld, true, $"{path}: another writer (epoch {state.Epoch}, a running process) holds the replica's fence {until}.");
                }

                DateTimeOffset? expires = duration == Timeout.InfiniteTimeSpan ? null : now + duration;
                var mine = new State(state.Epoch + 1, expires?.UtcTicks ?? long.MaxValue, Guid.NewGuid());
                LockFile holderLock = LockFile.Open(HolderPath(path, mine.Holder), out _);
                try
                {
                    if (!await holderLock.TryLockAsync(exclusive: true, TimeSpan.Zero, cancellationToken).ConfigureAwait(false))
                    {
                        throw new IOException($"{holderLock.Path}: a new holder file is locked by another process.");
                    }

                    WriteState(file, mine);
                    DurableFile.FlushDirectory(Path.GetDirectoryName(path)!);
                }
                catch
                {
                    holderLock.Dispose();
                    File.Delete(holderLock.Path);
                    throw;
                }

                return new LocalFence(file, holderLock, mine.Epoch, mine.Holder, expires, duration, lockWait, time);
            }
            finally
            {
                file.Unlock();
            }
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Enters a change: fails with <see cref="ReplicationErrorCode.FenceLost"/> unless this writer still holds the fence.
    /// Pair with <see cref="Exit"/>.
    /// </summary>
    public async ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfLost();
            if (ExpiresAt is { } expires && _time.GetUtcNow() >= expires)
            {
                throw Lose($"its lease lapsed at {expires:O} without being renewed");
            }

            if (_active == 0)
            {
                if (!await _file.TryLockAsync(exclusive: false, _lockWait, cancellationToken).ConfigureAwait(false))
                {
                    throw Lose("another writer is taking the fence over");
                }

                if (!ReadStateOrDefault(_file).IsHeldBy(Epoch, _holder))
                {
                    _file.Unlock();
                    throw Lose("another writer took the fence over");
                }
            }

            _active++;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Exit()
    {
        _gate.Wait();
        try
        {
            if (--_active == 0)
            {
                _file.Unlock();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask RenewAsync(CancellationToken cancellationToken)
    {
        await UpdateAsync(release: false, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask ReleaseAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool lost = _lost;
        _gate.Release();
        if (!lost)
        {
            await UpdateAsync(release: true, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask UpdateAsync(bool release, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfLost();
            bool locked = false;
            if (_active == 0)
            {
                // No change in flight, so this process holds no lock: take the exclusive one to change the state.
                if (!await _file.TryLockAsync(exclusive: true, _lockWait, cancellationToken).ConfigureAwait(false))
                {
                    throw Lose("another writer is taking the fence over");
                }

                locked = true;
            }

            // Otherwise the shared lock held for the changes in flight keeps every other writer from taking over.
            try
            {
                if (!ReadStateOrDefault(_file).IsHeldBy(Epoch, _holder))
                {
                    throw Lose("another writer took the fence over");
                }

                if (!release && ExpiresAt is { } expires && _time.GetUtcNow() >= expires)
                {
                    throw Lose($"its lease lapsed at {expires:O} before it was renewed");
                }

                DateTimeOffset? next = release ? null : _duration == Timeout.InfiniteTimeSpan ? null : _time.GetUtcNow() + _duration;
                long ticks = release ? 0 : next?.UtcTicks ?? long.MaxValue;
                WriteState(_file, new State(Epoch, ticks, _holder));
                if (release)
                {
                    _lost = true;
                    _lostReason = "it released the fence";
                }
                else
                {
                    ExpiresAt = next;
                }
            }
            finally
            {
                if (locked)
                {
                    _file.Unlock();
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private void ThrowIfLost()
    {
        if (_lost)
        {
            throw new ReplicaTargetException(ReplicationErrorCode.FenceLost, false, $"{_file.Path}: this writer (epoch {Epoch}) no longer holds the fence: {_lostReason}.");
        }
    }

    private ReplicaTargetException Lose(string reason)
    {
        _lost = true;
        _lostReason = reason;
        return new ReplicaTargetException(ReplicationErrorCode.FenceLost, false, $"{_file.Path}: this writer (epoch {Epoch}) no longer holds the fence: {reason}.");
    }

    public void Dispose()
    {
        _file.Dispose();
        _holderLock.Dispose();

        // A fence released is done with its holder file. One disposed while still held keeps it: its lock is free now,
        // so the next writer sees a holder that is gone and takes over at once instead of waiting for the lease.
        if (_lost)
        {
            File.Delete(_holderLock.Path);
        }

        _gate.Dispose();
    }

    private static string HolderPath(string fencePath, Guid holder) => $"{fencePath}.{holder:N}.holder";

    /// <summary>
    /// True when the holder's lifetime lock is free: the process that took the fence is gone. A holder file that does
    /// not exist proves nothing (a holder of an older version kept none), so the holder then counts as alive.
    /// </summary>
    private static async ValueTask<bool> IsHolderGoneAsync(string fencePath, Guid holder, CancellationToken cancellationToken)
    {
        string path = HolderPath(fencePath, holder);
        if (!File.Exists(path))
        {
            return false;
        }

        using LockFile probe = LockFile.Open(path, out _);
        if (!await probe.TryLockAsync(exclusive: true, TimeSpan.Zero, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    private static State ReadStateOrDefault(LockFile file)
    {
        Span<byte> bytes = stackalloc byte[StateSize];
        int n = file.Read(0, bytes);
        return n == StateSize && TryParse(bytes, out State state) ? state : default;
    }

    private static State ReadState(LockFile file, string path)
    {
        Span<byte> bytes = stackalloc byte[StateSize];
        int n = file.Read(0, bytes);
        if (n == 0)
        {
            return default;
        }

        try
        {
            return Parse(bytes[..n], path);
        }
        catch (InvalidRecordException ex)
        {
            throw new InvalidRecordException(ex.FilePath, ex.Offset, ex.Field, "not a valid fence state; delete the file only if no writer is running", ex);
        }
    }

    private static bool TryParse(ReadOnlySpan<byte> bytes, out State state)
    {
        try
        {
            state = Parse(bytes, null);
            return true;
        }
        catch (InvalidRecordException)
        {
            state = default;
            return false;
        }
    }

    private static State Parse(ReadOnlySpan<byte> bytes, string? path)
    {
        RecordReader r = Format.Decode(bytes, path);
        return new State(r.Int64("Epoch"), r.Int64("ExpiresTicks"), r.Guid("Holder"));
    }

    private static void WriteState(LockFile file, State state)
    {
        Span<byte> payload = stackalloc byte[PayloadSize];
        var w = new RecordWriter(payload);
        w.Int64(state.Epoch);
        w.Int64(state.ExpiresTicks);
        w.Guid(state.Holder);
        Span<byte> bytes = stackalloc byte[StateSize];
        Format.Encode(payload, bytes);
        file.WriteDurably(0, bytes);
    }

    private readonly record struct State(long Epoch, long ExpiresTicks, Guid Holder)
    {
        public bool Holds(DateTimeOffset now) => Holder != Guid.Empty && ExpiresTicks != 0 && ExpiresTicks > now.UtcTicks;

        public bool IsHeldBy(long epoch, Guid holder) => Epoch == epoch && Holder == holder && ExpiresTicks != 0;

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"epoch {Epoch}");
    }
}
