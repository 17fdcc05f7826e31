namespace Pastry;

/// <summary>The field is kept in State Server memory and sent to clients that gain interest later.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class RamAttribute : Attribute
{
}

/// <summary>The field is persisted in the database and loaded when the object is activated.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class DbAttribute : Attribute
{
}

/// <summary>Updates go to every client with interest in the object's zone (otherwise only to the AI and the owner).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class BroadcastAttribute : Attribute
{
}

/// <summary>Any client with the object in view may set this field or call this method.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class ClSendAttribute : Attribute
{
}

/// <summary>Only the owning client may set this field or call this method.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class OwnSendAttribute : Attribute
{
}

/// <summary>Only the AI (or the server) may set this field or call this method; a client that tries is ejected.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class AiAttribute : Attribute
{
}

/// <summary>Marks a method as a remote procedure call: its body runs on the receiving side.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DistributedAttribute : Attribute
{
}

/// <summary>An UberDOG method that anonymous (not yet logged in) sessions may call, such as <c>Login</c>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class AnonymousAttribute : Attribute
{
}

/// <summary>Excludes a public read-write property from the model: it stays local and is never synchronised.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class NotDistributedAttribute : Attribute
{
}

/// <summary>The keywords of a field or method, as a set of flags (see ARCHITECTURE section 2).</summary>
[Flags]
public enum FieldKeywords
{
    /// <summary>No keyword: the field is relayed, not stored.</summary>
    None = 0,

    /// <summary><c>[Required]</c>: must be given a value before the object is created.</summary>
    Required = 1,

    /// <summary><c>[Ram]</c>: kept in State Server memory.</summary>
    Ram = 2,

    /// <summary><c>[Db]</c>: persisted in the database.</summary>
    Db = 4,

    /// <summary><c>[Broadcast]</c>: sent to every client with interest.</summary>
    Broadcast = 8,

    /// <summary><c>[ClSend]</c>: any client with the object in view may send it.</summary>
    ClSend = 16,

    /// <summary><c>[OwnSend]</c>: only the owner may send it.</summary>
    OwnSend = 32,

    /// <summary><c>[Ai]</c>: only the AI may send it.</summary>
    Ai = 64,

    /// <summary><c>[Anonymous]</c>: callable by sessions that have not logged in (UberDOG methods).</summary>
    Anonymous = 128,
}
