using System.Buffers;
using System.IO.Pipelines;
using static Replication.Core.Nbd.NbdProtocol;

namespace Replication.Core.Nbd;

internal sealed partial class NbdConnection
{
    private readonly Lock _gate = new();
    private readonly Stack<NbdRequest> _idle;
    private readonly List<NbdRequest> _all;
    private readonly NbdSignal _resources = new();
    private bool _receiverBlocked;
    private int _busy;
    private long _inFlightBytes;
    private TaskCompletionSource? _drained;
    private readonly TaskCompletionSource _firstBlocked = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes the first time the receiver stops reading for want of a slot or budget (for tests).</summary>
    internal Task FirstBlocked => _firstBlocked.Task;

    // The write whose payload is being received, or the refused request whose payload is being discarded.
    private NbdRequest? _receiving;
    private long _discarding;

    private enum Step
    {
        NeedData,
        WaitForResources,
        Disconnect,
        Violation,
    }

    /// <summary>
    /// The transmission phase's receiver. Returns at NBD_CMD_DISC, at a stop, when the client closes or breaks the
    /// protocol; requests already taken are finished by their workers (see <see cref="DrainAsync"/>).
    /// </summary>
    private async Task ReceiveAsync(NbdExport export)
    {
        try
        {
            while (!_stopping)
            {
                ReadResult result = await _input.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    _input.AdvanceTo(result.Buffer.Start);
                    continue;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                Step step = Step.NeedData;
                try
                {
                    step = Parse(export, ref buffer);
                }
                finally
                {
                    // Consumed: what was parsed. Examined: everything when more data is needed, otherwise only what was
                    // consumed, so that the next read returns the unparsed rest at once.
                    _input.AdvanceTo(buffer.Start, step == Step.NeedData ? buffer.End : buffer.Start);
                }

                switch (step)
                {
                    case Step.NeedData when result.IsCompleted:
                    case Step.Disconnect:
                    case Step.Violation:
                        return;
                    case Step.WaitForResources:
                        await _resources.WaitAsync().ConfigureAwait(false);
                        break;
                }
            }
        }
        finally
        {
            AbandonReceiving();
        }
    }

    /// <summary>Parses and dispatches every complete request in <paramref name="buffer"/>, slicing off what it consumed.</summary>
    private Step Parse(NbdExport export, ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            if (_receiving is { } request)
            {
                if (_discarding > 0)
                {
                    long skip = Math.Min(buffer.Length, _discarding);
                    buffer = buffer.Slice(skip);
                    _discarding -= skip;
                    if (_discarding > 0)
                    {
                        return Step.NeedData;
                    }
                }
                else
                {
                    int take = (int)Math.Min(buffer.Length, request.Length - request.Received);
                    buffer.Slice(0, take).CopyTo(request.Payload.AsSpan(request.Received));
                    buffer = buffer.Slice(take);
                    request.Received += take;
                    if (request.Received < request.Length)
                    {
                        return Step.NeedData;
                    }
                }

                _receiving = null;
                request.Start.Set();
                continue;
            }

            if (_stopping)
            {
                return Step.Disconnect;
            }

            if (!NbdRequestHeader.TryRead(buffer, out NbdRequestHeader header))
            {
                return Step.NeedData;
            }

            if (header.Magic != RequestMagic)
            {
                return Step.Violation;
            }

            if (header.Type == CmdDisc)
            {
                buffer = buffer.Slice(RequestHeaderSize);
                return Step.Disconnect;
            }

            (uint error, string? message) = Validate(export, header);
            bool hasPayload = header.Type == CmdWrite && header.Length > 0;
            if (hasPayload && error != 0 && header.Length > Math.Max(_options.MaxPayloadSize, DefaultMaxPayload))
            {
                // A payload this large is treated as an attack (the protocol allows a hard disconnect for it).
                return Step.Violation;
            }

            long cost = error == 0 && header.Type is CmdRead or CmdWrite ? header.Length : 0;
            NbdRequest? slot = TryReserve(cost);
            if (slot is null)
            {
                return Step.WaitForResources;
            }

            buffer = buffer.Slice(RequestHeaderSize);
            slot.Flags = header.Flags;
            slot.Type = header.Type;
            slot.Handle = header.Handle;
            slot.Offset = (long)Math.Min(header.Offset, long.MaxValue);
            slot.Length = header.Length;
            slot.Cost = cost;
            slot.Error = error;
            slot.Message = message;
            if (hasPayload)
            {
                _receiving = slot;
                if (error == 0)
                {
                    slot.Payload = Rent(header.Length);
                }
                else
                {
                    _discarding = header.Length;
                }

                continue;
            }

            slot.Start.Set();
        }
    }

    /// <summary>The error a request gets before it runs, or 0 when it may run (doc/proto.md, "Error values").</summary>
    private (uint Error, string? Message) Validate(NbdExport export, in NbdRequestHeader header)
    {
        ulong size = (ulong)export.Disk.VirtualSize;
        bool inside = header.Offset <= size && header.Length <= size - header.Offset;
        bool aligned = ((header.Offset | header.Length) & (ulong)(export.MinimumBlockSize - 1)) == 0;
        int allowed = header.Type switch
        {
            CmdRead => CmdFlagFua | (_structured ? CmdFlagDf : 0),
            CmdWrite or CmdFlush or CmdTrim => CmdFlagFua,
            CmdWriteZeroes => CmdFlagFua | CmdFlagNoHole,
            _ => -1,
        };
        if (allowed < 0)
        {
            return (EInval, "unknown command");
        }

        if ((header.Flags & ~allowed) != 0)
        {
            return (EInval, "command flag not valid for this command");
        }

        switch (header.Type)
        {
            case CmdRead:
                if (header.Length > (uint)_options.MaxPayloadSize)
                {
                    return (_structured ? EOverflow : EInval, "read longer than the maximum payload size");
                }

                return !inside ? (EInval, "read past the end of the export")
                    : !aligned ? (EInval, "offset or length not a multiple of the minimum block size")
                    : (0, null);

            case CmdWrite:
            case CmdWriteZeroes:
            case CmdTrim:
                if (export.IsReadOnly)
                {
                    return (EPerm, "the export is read-only");
                }

                if (header.Type == CmdWrite && header.Length > (uint)_options.MaxPayloadSize)
                {
                    return (EInval, "write longer than the maximum payload size");
                }

                return !inside ? (header.Type == CmdTrim ? EInval : ENoSpc, "range past the end of the export")
                    : !aligned ? (EInval, "offset or length not a multiple of the minimum block size")
                    : (0, null);

            default:
                return header.Offset != 0 || header.Length != 0 ? (EInval, "a flush has no offset or length") : (0, null);
        }
    }

    /// <summary>
    /// Takes an idle request slot and <paramref name="cost"/> bytes of the in-flight budget; null (and the receiver
    /// marked blocked, to be woken by the next release) when either is used up.
    /// </summary>
    private NbdRequest? TryReserve(long cost)
    {
        NbdRequest? slot = null;
        lock (_gate)
        {
            if ((_inFlightBytes + cost > _options.MaxInFlightBytes && _inFlightBytes > 0) ||
                (!_idle.TryPop(out slot) && _all.Count == _options.MaxRequestsInFlight))
            {
                _receiverBlocked = true;
                _firstBlocked.TrySetResult();
                return null;
            }

            if (slot is null)
            {
                slot = new NbdRequest();
                _all.Add(slot);
                slot.Worker = WorkerAsync(slot);
            }

            _busy++;
            _inFlightBytes += cost;
            PeakInFlightBytes = Math.Max(PeakInFlightBytes, _inFlightBytes);
        }

        slot.Reset();
        return slot;
    }

    /// <summary>Gives a request's slot and budget back once its reply is sent (or dropped).</summary>
    private void Release(NbdRequest request)
    {
        if (request.Payload is { } payload)
        {
            request.Payload = null;
            ArrayPool<byte>.Shared.Return(payload);
        }

        bool wake;
        TaskCompletionSource? drained = null;
        lock (_gate)
        {
            _inFlightBytes -= request.Cost;
            _busy--;
            _idle.Push(request);
            wake = _receiverBlocked;
            _receiverBlocked = false;
            if (_busy == 0 && _drained is not null)
            {
                drained = _drained;
            }
        }

        if (wake)
        {
            _resources.Set();
        }

        drained?.TrySetResult();
    }

    /// <summary>A write cut short by the end of the session never runs: its slot goes back unused.</summary>
    private void AbandonReceiving()
    {
        if (_receiving is { } request)
        {
            _receiving = null;
            _discarding = 0;
            Release(request);
        }
    }

    /// <summary>Waits until every request taken has been replied to (or its reply dropped with the connection).</summary>
    private Task DrainAsync()
    {
        lock (_gate)
        {
            if (_busy == 0)
            {
                return Task.CompletedTask;
            }

            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task;
        }
    }
}
