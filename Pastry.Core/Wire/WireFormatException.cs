namespace Pastry.Wire;

/// <summary>What was wrong with bytes that could not be decoded.</summary>
public enum WireError
{
    /// <summary>The data ended before the value did.</summary>
    Truncated = 1,

    /// <summary>A length or count is larger than the bytes that are left (or than the limit).</summary>
    LengthOutOfRange = 2,

    /// <summary>A string is not valid UTF-8.</summary>
    InvalidUtf8 = 3,

    /// <summary>A value is outside its type's domain (a bool that is not 0 or 1, a DateTime out of range, a varint too long).</summary>
    InvalidValue = 4,

    /// <summary>Bytes were left over after the message was read.</summary>
    TrailingBytes = 5,

    /// <summary>A class id, field index or method index that the schema does not know.</summary>
    UnknownMember = 6,
}

/// <summary>
/// The typed error for bytes that cannot be decoded. Decoders throw only this; callers that read from the
/// network catch it and eject the peer (truncated frame, 109) instead of crashing.
/// </summary>
public sealed class WireFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WireFormatException(WireError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>The kind of problem.</summary>
    public WireError Error { get; }
}
