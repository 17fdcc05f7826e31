using System.Reactive.Linq;
using Pastry.Objects;

namespace Pastry.Client;

/// <summary>The streams of one model class on a client: objects that enter, change, move, leave and RPCs they receive.</summary>
/// <typeparam name="T">The model.</typeparam>
public sealed class ClassEvents<T>
    where T : DistributedObject<T>
{
    internal ClassEvents(ClassStreams streams)
    {
        Created = streams.Created.OfType<T>();
        Updated = streams.Updated;
        Moved = streams.Moved.OfType<T>();
        Disabled = streams.Disabled.OfType<T>();
        Deleted = streams.Deleted.OfType<T>();
        Calls = streams.Calls;
    }

    /// <summary>An object of this class entered the client's view (its fields are set).</summary>
    public IObservable<T> Created { get; }

    /// <summary>A field of an object of this class changed (from the network or set locally).</summary>
    public IObservable<FieldChange> Updated { get; }

    /// <summary>An object of this class moved to another zone that the client still sees.</summary>
    public IObservable<T> Moved { get; }

    /// <summary>An object of this class left the client's interest (the server still has it).</summary>
    public IObservable<T> Disabled { get; }

    /// <summary>An object of this class was deleted on the server.</summary>
    public IObservable<T> Deleted { get; }

    /// <summary>RPCs received by objects of this class; their bodies have already run.</summary>
    public IObservable<RpcCall> Calls { get; }
}

/// <summary>An open interest: a parent and zones, identified by a context number.</summary>
/// <param name="Context">The context number sent to the server.</param>
/// <param name="Parent">The parent object.</param>
/// <param name="Zones">The zones.</param>
public sealed record Interest(uint Context, DoId Parent, IReadOnlyList<uint> Zones);
