using System.Diagnostics.CodeAnalysis;
using System.Reactive.Subjects;

namespace Pastry.Objects;

/// <summary>
/// The one object table of a repository (the AI's and the client's): the live objects by DoId, and the per-class
/// streams. An object that leaves the table is disabled or deleted, which completes its own change stream, and its
/// class hears it; when the repository closes, every class stream completes (ARCHITECTURE 2).
/// </summary>
internal sealed class ObjectTable
{
    private readonly object gate = new();
    private readonly Dictionary<DoId, DistributedObject> objects = new();
    private readonly Dictionary<ModelInfo, ClassStreams> streams = new();
    private bool closed;

    /// <summary>How many objects it holds.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return objects.Count;
            }
        }
    }

    /// <summary>A copy of the objects it holds now.</summary>
    public List<DistributedObject> Snapshot()
    {
        lock (gate)
        {
            return objects.Values.ToList();
        }
    }

    /// <summary>The object <paramref name="id"/>, if it holds it.</summary>
    public bool TryGet(DoId id, [NotNullWhen(true)] out DistributedObject? obj)
    {
        lock (gate)
        {
            return objects.TryGetValue(id, out obj);
        }
    }

    /// <summary>The streams of <paramref name="model"/>; once the table is closed, they are completed.</summary>
    public ClassStreams StreamsOf(ModelInfo model)
    {
        ClassStreams? found;
        bool late;
        lock (gate)
        {
            late = closed && !streams.ContainsKey(model);
            if (!streams.TryGetValue(model, out found))
            {
                streams[model] = found = new ClassStreams();
            }
        }

        if (late)
        {
            found.Complete();
        }

        return found;
    }

    /// <summary>
    /// Makes <paramref name="obj"/> live in the table: bound to <paramref name="binding"/> (its sets go there), and its
    /// changes streamed to its class. The caller announces it on <see cref="ClassStreams.Created"/> when it is ready.
    /// </summary>
    public ClassStreams Track(DistributedObject obj, IObjectBinding binding)
    {
        obj.Binding = binding;
        obj.SetState(ObjectState.Live);
        var classStreams = StreamsOf(obj.Model);
        obj.Changes.Subscribe(classStreams.Updated.OnNext);
        lock (gate)
        {
            objects[obj.DoId] = obj;
        }

        return classStreams;
    }

    /// <summary>
    /// Takes <paramref name="id"/> out of the table as <paramref name="state"/> (disabled or deleted), which completes
    /// its change stream, and tells its class on <see cref="ClassStreams.Disabled"/> or <see cref="ClassStreams.Deleted"/>.
    /// </summary>
    public bool Remove(DoId id, ObjectState state, [NotNullWhen(true)] out DistributedObject? obj)
    {
        lock (gate)
        {
            if (!objects.Remove(id, out obj))
            {
                return false;
            }
        }

        obj.SetState(state);
        var classStreams = StreamsOf(obj.Model);
        (state == ObjectState.Deleted ? classStreams.Deleted : classStreams.Disabled).OnNext(obj);
        return true;
    }

    /// <summary>
    /// Closes the table with its repository: the objects still in it become <paramref name="remaining"/> (when given;
    /// their change streams complete), and every class stream completes. Later streams are born completed.
    /// </summary>
    public void Close(ObjectState? remaining)
    {
        List<DistributedObject> left;
        List<ClassStreams> toComplete;
        lock (gate)
        {
            if (closed)
            {
                return;
            }

            closed = true;
            left = objects.Values.ToList();
            objects.Clear();
            toComplete = streams.Values.ToList();
        }

        if (remaining is ObjectState state)
        {
            foreach (var obj in left)
            {
                obj.SetState(state);
            }
        }

        foreach (var classStreams in toComplete)
        {
            classStreams.Complete();
        }
    }
}

/// <summary>The subjects of one model class in a repository: objects that arrive, change, move, leave, and RPCs they receive.</summary>
internal sealed class ClassStreams
{
    /// <summary>An object arrived (created by an AI, or entered a client's view).</summary>
    public Subject<DistributedObject> Created { get; } = new();

    /// <summary>A field of an object changed.</summary>
    public Subject<FieldChange> Updated { get; } = new();

    /// <summary>An object moved to another zone (clients).</summary>
    public Subject<DistributedObject> Moved { get; } = new();

    /// <summary>An object left the repository's view while it still exists (clients).</summary>
    public Subject<DistributedObject> Disabled { get; } = new();

    /// <summary>An object was deleted.</summary>
    public Subject<DistributedObject> Deleted { get; } = new();

    /// <summary>An object received an RPC (after its body ran).</summary>
    public Subject<RpcCall> Calls { get; } = new();

    /// <summary>Completes every stream; subscribers that come later complete at once.</summary>
    public void Complete()
    {
        Created.OnCompleted();
        Updated.OnCompleted();
        Moved.OnCompleted();
        Disabled.OnCompleted();
        Deleted.OnCompleted();
        Calls.OnCompleted();
    }
}
