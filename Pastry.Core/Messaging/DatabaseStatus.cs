namespace Pastry.Messaging;

/// <summary>
/// The status byte of every Database role reply (see the <c>Db*</c> members of
/// <see cref="InternalMessageType"/>). It is in Core because AIs read it too.
/// </summary>
public enum DatabaseStatus : byte
{
    /// <summary>Done (and, for a write, committed).</summary>
    Ok = 0,

    /// <summary>Set-if-equals: a stored value differed from the expected one; nothing was written, the reply carries the current values.</summary>
    NotEqual = 1,

    /// <summary>No stored object of that class has that DoId.</summary>
    NotFound = 2,

    /// <summary>Create: an object with that DoId is already stored.</summary>
    AlreadyExists = 3,

    /// <summary>The request is invalid: unknown class, a field that is not Db, a value that fails validation, a missing Required field.</summary>
    Invalid = 4,

    /// <summary>A stored value fails its field's type or validators; the reason names the DoId and the field. Nothing was changed.</summary>
    BadData = 5,

    /// <summary>The database failed (for example the disk is full); the write was not committed.</summary>
    Failed = 6,

    /// <summary>
    /// Create or write: another stored object already holds the value of a <c>[Unique]</c> field (or the combination of a
    /// <c>[UniqueTogether]</c>); nothing was written. The reply names the fields and the reason the value.
    /// </summary>
    UniqueViolation = 7,

    /// <summary>
    /// The role's queue for this kind of request is full (<c>Database:MailboxCapacity</c> for writes,
    /// <c>Database:MaxPendingQueries</c> for queries); nothing was done. Try again later, or ask less often.
    /// </summary>
    Overloaded = 8,

    /// <summary>
    /// Query: the answer would be larger than <c>Database:MaxQueryAnswerBytes</c> (kept below the Message Director's frame
    /// limit); nothing is returned. Take fewer rows, or ask for DoIds only.
    /// </summary>
    AnswerTooLarge = 9,

    /// <summary>
    /// The sender is a Message Director link that is not privileged, and the object is not one it has live (created,
    /// activated or was given): it may not write the object's stored row. Nothing was written.
    /// </summary>
    Forbidden = 10,
}
