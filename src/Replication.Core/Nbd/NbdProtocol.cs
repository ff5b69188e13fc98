namespace Replication.Core.Nbd;

/// <summary>
/// Numbers of the Network Block Device protocol (NetworkBlockDevice/nbd, doc/proto.md): magics, flags, options, reply
/// types, commands and errors. Every multi-byte field on the wire is big-endian.
/// </summary>
internal static class NbdProtocol
{
    /// <summary>"NBDMAGIC", the server's first eight bytes.</summary>
    public const ulong InitPasswd = 0x4e42444d41474943;

    /// <summary>"IHAVEOPT": the newstyle magic, and the magic of every option the client sends.</summary>
    public const ulong OptionMagic = 0x49484156454F5054;

    /// <summary>Magic of every option reply.</summary>
    public const ulong OptionReplyMagic = 0x0003e889045565a9;

    /// <summary>Magic of a transmission request.</summary>
    public const uint RequestMagic = 0x25609513;

    /// <summary>Magic of a simple reply.</summary>
    public const uint SimpleReplyMagic = 0x67446698;

    /// <summary>Magic of a structured reply chunk.</summary>
    public const uint StructuredReplyMagic = 0x668e33ef;

    // Handshake flags (server) and client flags.
    public const ushort FlagFixedNewstyle = 1 << 0;
    public const ushort FlagNoZeroes = 1 << 1;
    public const uint ClientFlagFixedNewstyle = 1 << 0;
    public const uint ClientFlagNoZeroes = 1 << 1;

    // Transmission flags.
    public const ushort FlagHasFlags = 1 << 0;
    public const ushort FlagReadOnly = 1 << 1;
    public const ushort FlagSendFlush = 1 << 2;
    public const ushort FlagSendFua = 1 << 3;
    public const ushort FlagSendTrim = 1 << 5;
    public const ushort FlagSendWriteZeroes = 1 << 6;
    public const ushort FlagSendDf = 1 << 7;
    public const ushort FlagCanMultiConn = 1 << 8;

    // Options.
    public const uint OptExportName = 1;
    public const uint OptAbort = 2;
    public const uint OptList = 3;
    public const uint OptStartTls = 5;
    public const uint OptInfo = 6;
    public const uint OptGo = 7;
    public const uint OptStructuredReply = 8;

    // Option reply types.
    public const uint RepAck = 1;
    public const uint RepServer = 2;
    public const uint RepInfo = 3;
    public const uint RepErrUnsup = 0x80000001;
    public const uint RepErrPolicy = 0x80000002;
    public const uint RepErrInvalid = 0x80000003;
    public const uint RepErrUnknown = 0x80000006;
    public const uint RepErrShutdown = 0x80000007;
    public const uint RepErrTooBig = 0x80000009;

    // Information types of NBD_REP_INFO.
    public const ushort InfoExport = 0;
    public const ushort InfoName = 1;
    public const ushort InfoBlockSize = 3;

    // Commands.
    public const ushort CmdRead = 0;
    public const ushort CmdWrite = 1;
    public const ushort CmdDisc = 2;
    public const ushort CmdFlush = 3;
    public const ushort CmdTrim = 4;
    public const ushort CmdWriteZeroes = 6;

    // Command flags.
    public const ushort CmdFlagFua = 1 << 0;
    public const ushort CmdFlagNoHole = 1 << 1;
    public const ushort CmdFlagDf = 1 << 2;

    // Structured replies.
    public const ushort ReplyFlagDone = 1 << 0;
    public const ushort ReplyTypeNone = 0;
    public const ushort ReplyTypeOffsetData = 1;
    public const ushort ReplyTypeError = 0x8001;

    // Errors.
    public const uint EPerm = 1;
    public const uint EIo = 5;
    public const uint EInval = 22;
    public const uint ENoSpc = 28;
    public const uint EOverflow = 75;
    public const uint EShutdown = 108;

    // Sizes.
    public const int HandshakeSize = 18;
    public const int OptionHeaderSize = 16;
    public const int OptionReplyHeaderSize = 20;
    public const int RequestHeaderSize = 28;
    public const int SimpleReplySize = 16;
    public const int StructuredReplyHeaderSize = 20;

    /// <summary>The longest string the protocol allows (export names, messages).</summary>
    public const int MaxStringLength = 4096;

    /// <summary>Payloads up to this size are never treated as an attack (doc/proto.md, "Size constraints").</summary>
    public const int DefaultMaxPayload = 32 << 20;
}
