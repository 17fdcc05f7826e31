using System.Buffers.Binary;
using System.Net;
using Pastry.Ai;
using Pastry.Messaging;

namespace Pastry.Cli.Bench;

/// <summary>
/// The AI side of a bench: one link to the Message Director (<see cref="RemoteMessageRouter"/>), the objects it
/// created, and an allocation-free way to send an update: one envelope per entity whose payload (field index and
/// send time) is rewritten in place before each publish, which the link copies before returning.
/// </summary>
internal sealed class BenchAi : IParticipant, IAsyncDisposable
{
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(60);

    private readonly RemoteMessageRouter link;
    private readonly Channel[] stateServer = { Channel.StateServer };
    private Envelope[] updates = Array.Empty<Envelope>();
    private byte[][] payloads = Array.Empty<byte[]>();
    private TaskCompletionSource? allEntered;
    private TaskCompletionSource<ServerMemory>? memory;
    private int expectedEnters;
    private int enters;
    private int errors;
    private long sent;

    private BenchAi(RemoteMessageRouter link)
    {
        this.link = link;
        Channel = Channel.ForParticipant(DoId.NewId());
        link.Subscribe(this, Channel);

        // If the bench dies, the Message Director deletes what it created (a --target server outlives many runs).
        link.AddPostRemove(InternalMessages.DeleteAiObjects(Channel), Channel.StateServer);
    }

    /// <summary>The AI's own channel (creates and updates are sent from it).</summary>
    public Channel Channel { get; }

    /// <inheritdoc />
    public string Name => "bench-ai";

    /// <summary>Refusals the State Server sent back.</summary>
    public int Errors => Volatile.Read(ref errors);

    /// <summary>Updates sent so far (read from other threads).</summary>
    public long Sent => Volatile.Read(ref sent);

    /// <summary>The entities, in creation order.</summary>
    public IReadOnlyList<BenchEntity> Entities { get; private set; } = Array.Empty<BenchEntity>();

    /// <summary>Connects to the Message Director.</summary>
    public static async Task<BenchAi> ConnectAsync(IPEndPoint director, CancellationToken cancellation)
    {
        var link = await RemoteMessageRouter.ConnectAsync(director.Address.ToString(), director.Port, cancellation).ConfigureAwait(false);
        return new BenchAi(link);
    }

    /// <summary>
    /// Creates a <see cref="BenchZone"/> at the root and <paramref name="count"/> entities in its zone
    /// <paramref name="zone"/>, and waits until the State Server has placed every one (the AI listens to that zone
    /// only while it waits, so that it does not receive its own updates later).
    /// </summary>
    public async Task<BenchZone> CreateWorldAsync(ModelRegistry registry, int count, uint zone, CancellationToken cancellation)
    {
        var world = new BenchZone { Name = "bench" };
        var location = Channel.ForLocation(world.DoId, zone);
        allEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref expectedEnters, count);
        link.Subscribe(this, location);
        link.Publish(InternalMessages.CreateObject(world, DoId.Empty, 0, DoId.Empty, Channel), Channel.StateServer);
        var entities = new BenchEntity[count];
        updates = new Envelope[count];
        payloads = new byte[count][];
        int field = registry.GetModel<BenchEntity>().GetField(nameof(BenchEntity.SentTicks)).Index;
        for (int i = 0; i < count; i++)
        {
            entities[i] = new BenchEntity { Value = i, SentTicks = 0 };
            link.Publish(InternalMessages.CreateObject(entities[i], world.DoId, zone, DoId.Empty, Channel), Channel.StateServer);
            payloads[i] = new byte[2 + 8];
            BinaryPrimitives.WriteUInt16LittleEndian(payloads[i], (ushort)field);
            updates[i] = new Envelope(InternalMessageType.SetField, Channel, entities[i].DoId, payloads[i]);
        }

        Entities = entities;
        if (count == 0)
        {
            allEntered.TrySetResult();
        }

        try
        {
            await allEntered.Task.WaitAsync(CreateTimeout, cancellation).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new BenchException($"the State Server placed {Volatile.Read(ref enters)} of {count} entities within {CreateTimeout.TotalSeconds:0} s ({Errors} refusal(s))");
        }
        finally
        {
            link.Unsubscribe(this, location);
        }

        return world;
    }

    /// <summary>
    /// Creates <paramref name="count"/> entities (both fields set) under <paramref name="parent"/>, entity i in zone
    /// <c>i % zones</c>, at most <paramref name="window"/> at a time: each window waits until the State Server has
    /// placed all of it, so that the server never holds a queue of creates (which would inflate the memory readings).
    /// Nothing of the entities is kept on the bench side.
    /// </summary>
    public async Task CreateEntitiesAsync(DoId parent, int count, uint zones, int window, int firstValue, CancellationToken cancellation)
    {
        // The AI hears every placement while it creates (one range subscription, not one per zone), then stops.
        link.SubscribeRange(this, parent, 0, zones - 1);
        try
        {
            int created = 0;
            while (created < count)
            {
                int chunk = Math.Min(window, count - created);
                allEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref expectedEnters, Volatile.Read(ref enters) + chunk);
                for (int i = created; i < created + chunk; i++)
                {
                    var entity = new BenchEntity { Value = firstValue + i, SentTicks = i };
                    link.Publish(InternalMessages.CreateObject(entity, parent, (uint)(i % zones), DoId.Empty, Channel), stateServer);
                }

                if (Volatile.Read(ref enters) >= Volatile.Read(ref expectedEnters))
                {
                    allEntered.TrySetResult();
                }

                try
                {
                    await allEntered.Task.WaitAsync(CreateTimeout, cancellation).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new BenchException($"the State Server placed {Volatile.Read(ref enters)} entities, short of {Volatile.Read(ref expectedEnters)}, within {CreateTimeout.TotalSeconds:0} s ({Errors} refusal(s))");
                }

                created += chunk;
            }
        }
        finally
        {
            link.UnsubscribeRange(this, parent, 0, zones - 1);
        }
    }

    /// <summary>Creates a <see cref="BenchZone"/> at the root, without waiting (the next create waits behind it on the same link).</summary>
    public BenchZone CreateParent(string name)
    {
        var world = new BenchZone { Name = name };
        link.Publish(InternalMessages.CreateObject(world, DoId.Empty, 0, DoId.Empty, Channel), stateServer);
        return world;
    }

    /// <summary>
    /// Asks the server for its memory (<see cref="InternalMessageType.MemoryQuery"/>), after a full collection when
    /// <paramref name="collect"/>; null when it does not answer within 30 s (a server without the diagnostics role).
    /// </summary>
    public async Task<ServerMemory?> QueryMemoryAsync(bool collect, CancellationToken cancellation)
    {
        memory = new TaskCompletionSource<ServerMemory>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.Publish(InternalMessages.MemoryQuery(collect, Channel), Channel.Diagnostics);
        try
        {
            return await memory.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellation).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <summary>Sends <see cref="BenchEntity.SentTicks"/> = <paramref name="ticks"/> for entity <paramref name="index"/>. Allocates nothing.</summary>
    public void SendUpdate(int index, long ticks)
    {
        BinaryPrimitives.WriteInt64LittleEndian(payloads[index].AsSpan(2), ticks);
        link.Publish(updates[index], stateServer);
        Volatile.Write(ref sent, sent + 1);
    }

    /// <inheritdoc />
    public void Deliver(Envelope envelope)
    {
        switch (envelope.Type)
        {
            case InternalMessageType.EnterLocation:
                if (Interlocked.Increment(ref enters) >= Volatile.Read(ref expectedEnters))
                {
                    allEntered?.TrySetResult();
                }

                break;
            case InternalMessageType.MemoryReport:
                {
                    var reader = new Wire.WireReader(envelope.Payload.Span);
                    memory?.TrySetResult(new ServerMemory(reader.ReadInt64(), reader.ReadInt64(), reader.ReadInt64()));
                    break;
                }

            case InternalMessageType.Error:
                if (Interlocked.Increment(ref errors) <= 5)
                {
                    Console.Error.WriteLine($"bench: the State Server refused a request about {envelope.Subject}: {DescribeError(envelope.Payload.Span)}");
                }

                break;
        }
    }

    /// <summary>Drops the link; the Message Director then deletes the AI's objects.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await link.FlushAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await link.DisposeAsync().ConfigureAwait(false);
    }

    private static string DescribeError(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new Wire.WireReader(payload);
            return reader.ReadString();
        }
        catch (Wire.WireFormatException)
        {
            return "(unreadable reason)";
        }
    }
}

/// <summary>An OTP process's memory as its diagnostics role reports it.</summary>
internal readonly record struct ServerMemory(long ManagedHeapBytes, long GcCommittedBytes, long WorkingSetBytes);
