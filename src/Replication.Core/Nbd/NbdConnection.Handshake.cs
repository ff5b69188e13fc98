using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using static Replication.Core.Nbd.NbdProtocol;

namespace Replication.Core.Nbd;

internal sealed partial class NbdConnection
{
    /// <summary>Option data longer than this is discarded unread and refused with NBD_REP_ERR_TOO_BIG.</summary>
    internal const int MaxOptionData = 16 << 10;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private bool _structured;
    private bool _noZeroes;

    /// <summary>
    /// The fixed newstyle handshake. Returns the export to serve once the client entered transmission (NBD_OPT_GO or
    /// NBD_OPT_EXPORT_NAME), or null when the session ends during negotiation (abort, disconnect, protocol violation).
    /// </summary>
    private async Task<NbdExport?> HandshakeAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxOptionData + 512);
        try
        {
            BinaryPrimitives.WriteUInt64BigEndian(buffer, InitPasswd);
            BinaryPrimitives.WriteUInt64BigEndian(buffer.AsSpan(8), OptionMagic);
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(16), FlagFixedNewstyle | FlagNoZeroes);
            await _stream.WriteAsync(buffer.AsMemory(0, HandshakeSize), cancellationToken).ConfigureAwait(false);

            if (!await ReadExactlyAsync(buffer.AsMemory(0, 4), cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            uint clientFlags = BinaryPrimitives.ReadUInt32BigEndian(buffer);
            if ((clientFlags & ~(ClientFlagFixedNewstyle | ClientFlagNoZeroes)) != 0)
            {
                // The protocol requires dropping a client that sets a flag the server did not offer.
                return null;
            }

            _noZeroes = (clientFlags & ClientFlagNoZeroes) != 0;
            while (!_stopping)
            {
                if (!await ReadExactlyAsync(buffer.AsMemory(0, OptionHeaderSize), cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                ulong magic = BinaryPrimitives.ReadUInt64BigEndian(buffer);
                uint option = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(8));
                uint length = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(12));
                if (magic != OptionMagic)
                {
                    return null;
                }

                if (length > MaxOptionData)
                {
                    if (option == OptExportName || !await SkipAsync(length, cancellationToken).ConfigureAwait(false))
                    {
                        return null;
                    }

                    await ReplyAsync(buffer, option, RepErrTooBig, "option data too long", cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (!await ReadExactlyAsync(buffer.AsMemory(0, (int)length), cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                NbdExport? chosen = await HandleOptionAsync(buffer, option, (int)length, cancellationToken).ConfigureAwait(false);
                if (chosen is not null || _optionEnded)
                {
                    return chosen;
                }
            }

            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private bool _optionEnded;

    /// <summary>Answers one option whose data is in <paramref name="buffer"/>; returns the export when transmission begins.</summary>
    private async Task<NbdExport?> HandleOptionAsync(byte[] buffer, uint option, int length, CancellationToken cancellationToken)
    {
        switch (option)
        {
            case OptExportName:
            {
                // No error can be returned to this option: an unknown name ends the session.
                _optionEnded = true;
                NbdExport? export = FindExport(buffer.AsSpan(0, length));
                if (export is null)
                {
                    return null;
                }

                int n = ExportInfo(buffer, export);
                if (!_noZeroes)
                {
                    buffer.AsSpan(n, 124).Clear();
                    n += 124;
                }

                await _stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                return export;
            }

            case OptAbort:
                _optionEnded = true;
                await ReplyAsync(buffer, option, RepAck, null, cancellationToken).ConfigureAwait(false);
                return null;

            case OptList:
                if (length != 0)
                {
                    await ReplyAsync(buffer, option, RepErrInvalid, "NBD_OPT_LIST takes no data", cancellationToken).ConfigureAwait(false);
                    return null;
                }

                foreach (NbdExport export in _server.ExportsArray)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(OptionReplyHeaderSize), (uint)export.EncodedName.Length);
                    export.EncodedName.CopyTo(buffer.AsSpan(OptionReplyHeaderSize + 4));
                    int dataLength = 4 + export.EncodedName.Length;
                    WriteOptionReplyHeader(buffer, option, RepServer, dataLength);
                    await _stream.WriteAsync(buffer.AsMemory(0, OptionReplyHeaderSize + dataLength), cancellationToken).ConfigureAwait(false);
                }

                await ReplyAsync(buffer, option, RepAck, null, cancellationToken).ConfigureAwait(false);
                return null;

            case OptStartTls:
                await ReplyAsync(buffer, option, length == 0 ? RepErrPolicy : RepErrInvalid, "this server does not offer TLS", cancellationToken).ConfigureAwait(false);
                return null;

            case OptStructuredReply:
                if (length != 0)
                {
                    await ReplyAsync(buffer, option, RepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data", cancellationToken).ConfigureAwait(false);
                    return null;
                }

                _structured = true;
                await ReplyAsync(buffer, option, RepAck, null, cancellationToken).ConfigureAwait(false);
                return null;

            case OptInfo:
            case OptGo:
                return await InfoOrGoAsync(buffer, option, length, cancellationToken).ConfigureAwait(false);

            default:
                await ReplyAsync(buffer, option, RepErrUnsup, "option not supported", cancellationToken).ConfigureAwait(false);
                return null;
        }
    }

    /// <summary>NBD_OPT_INFO and NBD_OPT_GO: name length, name, count of information requests, the requests.</summary>
    private async Task<NbdExport?> InfoOrGoAsync(byte[] buffer, uint option, int length, CancellationToken cancellationToken)
    {
        uint nameLength = length >= 6 ? BinaryPrimitives.ReadUInt32BigEndian(buffer) : uint.MaxValue;
        if (nameLength > (uint)(length - 6) || nameLength > MaxStringLength)
        {
            await ReplyAsync(buffer, option, RepErrInvalid, "malformed option data", cancellationToken).ConfigureAwait(false);
            return null;
        }

        int count = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(4 + (int)nameLength));
        if (6 + (int)nameLength + (2 * count) != length)
        {
            await ReplyAsync(buffer, option, RepErrInvalid, "the information request count does not match the option length", cancellationToken).ConfigureAwait(false);
            return null;
        }

        bool wantName = false;
        for (int i = 0; i < count; i++)
        {
            wantName |= BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6 + (int)nameLength + (2 * i))) == InfoName;
        }

        if (!IsWellFormedName(buffer.AsSpan(4, (int)nameLength)))
        {
            await ReplyAsync(buffer, option, RepErrInvalid, "the export name is not valid UTF-8 without NUL", cancellationToken).ConfigureAwait(false);
            return null;
        }

        NbdExport? export = FindExport(buffer.AsSpan(4, (int)nameLength));
        if (export is null)
        {
            await ReplyAsync(buffer, option, RepErrUnknown, "no such export", cancellationToken).ConfigureAwait(false);
            return null;
        }

        // NBD_INFO_EXPORT (always), NBD_INFO_BLOCK_SIZE (always: the server enforces its minimum block size), NBD_INFO_NAME (when asked).
        int n = OptionReplyHeaderSize;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(n), InfoExport);
        int infoLength = ExportInfo(buffer.AsSpan(n + 2), export);
        WriteOptionReplyHeader(buffer, option, RepInfo, 2 + infoLength);
        n += 2 + infoLength;

        WriteOptionReplyHeader(buffer.AsSpan(n), option, RepInfo, 14);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(n + OptionReplyHeaderSize), InfoBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(n + OptionReplyHeaderSize + 2), (uint)export.MinimumBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(n + OptionReplyHeaderSize + 6), (uint)export.PreferredBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(n + OptionReplyHeaderSize + 10), (uint)_options.MaxPayloadSize);
        n += OptionReplyHeaderSize + 14;

        if (wantName)
        {
            WriteOptionReplyHeader(buffer.AsSpan(n), option, RepInfo, 2 + export.EncodedName.Length);
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(n + OptionReplyHeaderSize), InfoName);
            export.EncodedName.CopyTo(buffer.AsSpan(n + OptionReplyHeaderSize + 2));
            n += OptionReplyHeaderSize + 2 + export.EncodedName.Length;
        }

        WriteOptionReplyHeader(buffer.AsSpan(n), option, RepAck, 0);
        n += OptionReplyHeaderSize;
        await _stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
        if (option == OptGo)
        {
            _optionEnded = true;
            return export;
        }

        return null;
    }

    /// <summary>Size (64 bits) and transmission flags (16 bits), as NBD_OPT_EXPORT_NAME and NBD_INFO_EXPORT give them.</summary>
    private int ExportInfo(Span<byte> destination, NbdExport export)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, (ulong)export.Disk.VirtualSize);
        BinaryPrimitives.WriteUInt16BigEndian(destination[8..], TransmissionFlags(export));
        return 10;
    }

    private ushort TransmissionFlags(NbdExport export)
    {
        // One disk instance serves every connection, and its flush makes every completed write durable whichever
        // connection wrote it: what NBD_FLAG_CAN_MULTI_CONN promises.
        int flags = FlagHasFlags | FlagSendFlush | FlagSendFua | FlagCanMultiConn;
        flags |= export.IsReadOnly ? FlagReadOnly : FlagSendTrim | FlagSendWriteZeroes;
        if (_structured)
        {
            // Every read is answered with one data chunk, so "don't fragment" is always honoured.
            flags |= FlagSendDf;
        }

        return (ushort)flags;
    }

    private NbdExport? FindExport(ReadOnlySpan<byte> name)
    {
        NbdExport[] exports = _server.ExportsArray;
        if (name.IsEmpty)
        {
            return exports[0];
        }

        foreach (NbdExport export in exports)
        {
            if (name.SequenceEqual(export.EncodedName))
            {
                return export;
            }
        }

        return null;
    }

    private static bool IsWellFormedName(ReadOnlySpan<byte> name)
    {
        if (name.Contains((byte)0))
        {
            return false;
        }

        try
        {
            _ = StrictUtf8.GetCharCount(name);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    private static void WriteOptionReplyHeader(Span<byte> destination, uint option, uint type, int dataLength)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, OptionReplyMagic);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], option);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], type);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], (uint)dataLength);
    }

    /// <summary>Sends one option reply; an error's message goes in its data.</summary>
    private async Task ReplyAsync(byte[] buffer, uint option, uint type, string? message, CancellationToken cancellationToken)
    {
        int dataLength = message is null ? 0 : Encoding.UTF8.GetBytes(message, buffer.AsSpan(OptionReplyHeaderSize));
        WriteOptionReplyHeader(buffer, option, type, dataLength);
        await _stream.WriteAsync(buffer.AsMemory(0, OptionReplyHeaderSize + dataLength), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes; false when the client closed first.</summary>
    private async Task<bool> ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        int done = 0;
        while (done < destination.Length)
        {
            ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            long take = Math.Min(buffer.Length, destination.Length - done);
            try
            {
                buffer.Slice(0, take).CopyTo(destination.Span[done..]);
                done += (int)take;
            }
            finally
            {
                _input.AdvanceTo(buffer.GetPosition(take));
            }

            if (done < destination.Length && (result.IsCompleted || result.IsCanceled))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Discards <paramref name="count"/> bytes as they arrive, holding none of them; false when the client closed first.</summary>
    private async Task<bool> SkipAsync(long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            long take = Math.Min(result.Buffer.Length, count);
            _input.AdvanceTo(result.Buffer.GetPosition(take));
            count -= take;
            if (count > 0 && (result.IsCompleted || result.IsCanceled))
            {
                return false;
            }
        }

        return true;
    }
}
