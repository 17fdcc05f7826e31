namespace Pastry;

/// <summary>The life stage of a distributed object in this process.</summary>
public enum ObjectState
{
    /// <summary>Made with <c>new</c> and not attached to any repository: a plain in-memory object (tests, tools).</summary>
    Standalone = 0,

    /// <summary>Attached to a repository (AI or client) and synchronised.</summary>
    Live = 1,

    /// <summary>It left this client's interest; the server still has it.</summary>
    Disabled = 2,

    /// <summary>It was destroyed on the server.</summary>
    Deleted = 3,
}

/// <summary>Thrown when code touches an object after it left the client's interest.</summary>
public sealed class ObjectDisabledException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="target"/>.</summary>
    public ObjectDisabledException(DistributedObject target)
        : base($"{target.Model.Name} {target.DoId} is disabled: it left this client's interest. Add interest in its zone again to get a fresh copy.")
    {
        DoId = target.DoId;
    }

    /// <summary>The object's id.</summary>
    public DoId DoId { get; }
}

/// <summary>Thrown when code touches an object after it was deleted on the server.</summary>
public sealed class ObjectDeletedException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="target"/>.</summary>
    public ObjectDeletedException(DistributedObject target)
        : base($"{target.Model.Name} {target.DoId} was deleted on the server; drop your reference to it.")
    {
        DoId = target.DoId;
    }

    /// <summary>The object's id.</summary>
    public DoId DoId { get; }
}
