using System.Buffers.Binary;
using System.Net;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.StateServer;

namespace Pastry.Bench;

/// <summary>
/// The AI side of a bench: one link to the Message Director (<see cref="RemoteMessageRouter"/>), the objects it
/// created, and an allocation-free way to send an update: one envelope per entity whose payload (field index and
/// send time) is rewritten in place before each publish, which the link copies before returning.
/// </summary>
internal sealed class BenchAi : IParticipant, IAsyncDisposable
{
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(60);

    private readonly IPostRemoveRouter link;
    private readonly Channel[] stateServer = { Channel.StateServer };
    private Envelope[] updates = Array.Empty<Envelope>();
    private byte[][] payloads = Array.Empty<byte[]>();
    private TaskCompletionSource? allEntered;
    private TaskCompletionSource<ServerMemory>? memory;
    private int expectedEnters;
    private int enters;
    private int errors;
    private long sent;
    private WalkingAvatars? walking;
    private long positions;
    private long moves;

    private BenchAi(IPostRemoveRouter link)
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

    /// <summary>Positions clients sent for grid avatars, as the AI heard them (read from other threads).</summary>
    public long PositionsHeard => Volatile.Read(ref positions);

    /// <summary>Avatars the AI moved to another cell (read from other threads).</summary>
    public long Moves => Volatile.Read(ref moves);

    /// <summary>Objects the State Server has placed so far for this AI (read from other threads).</summary>
    public int Placed => Volatile.Read(ref enters);

    /// <summary>The entities, in creation order.</summary>
    public IReadOnlyList<BenchEntity> Entities { get; private set; } = Array.Empty<BenchEntity>();

    /// <summary>
    /// Connects to the server's Message Director: over the NATS backplane when the child server was given
    /// <c>--MessageDirector:Backplane nats</c> (the bench is then the AI process of an OTP + AI pair over NATS), otherwise
    /// over the MD's TCP link.
    /// </summary>
    public static async Task<BenchAi> ConnectAsync(BenchServer server, CancellationToken cancellation)
    {
        if (server.Backplane is not { } backplane)
        {
            return await ConnectAsync(server.DirectorEndPoint, cancellation).ConfigureAwait(false);
        }

        var router = new Pastry.Nats.NatsMessageRouter(backplane);
        try
        {
            await router.StartAsync(cancellation).ConfigureAwait(false);

            // As a hosted AI does: a root created before any OTP node is heard goes to the State Server role's subject,
            // which every OTP node subscribes, so with two nodes both would create it (and every delivery came twice).
            await router.WaitForKeeperAsync(cancellation).ConfigureAwait(false);

            // Then one heartbeat round more, so that every live OTP node is in this process's view and placement can
            // spread the bench's world over all of them (a two-node run measures the cross-node path only if it can).
            await Task.Delay(backplane.HeartbeatInterval * 1.5, cancellation).ConfigureAwait(false);
        }
        catch
        {
            await router.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new BenchAi(router);
    }

    /// <summary>Connects to the Message Director over its TCP link.</summary>
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
        int field = registry.GetModel<BenchEntity>().GetField(nameof(BenchEntity.SentTicks)).WireId;
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
            await WaitUntilPlacedAsync("entities", cancellation).ConfigureAwait(false);
        }
        finally
        {
            link.Unsubscribe(this, location);
        }

        return world;
    }

    /// <summary>
    /// Creates a <see cref="BenchZone"/> at the root whose zones are the cells of <paramref name="grid"/>, and one
    /// <see cref="BenchAvatar"/> per start position (no owner yet), each in the cell of its position, and waits until
    /// the State Server has placed every one. From then on the AI plays the game's part: when a client's position
    /// of an avatar lies in another cell, it moves the avatar there (clients cannot move objects; ARCHITECTURE 4).
    /// </summary>
    public async Task<(BenchZone World, DoId[] Avatars)> CreateGridAsync(ModelRegistry registry, ZoneGrid grid, float cellSize, IReadOnlyList<(float X, float Y)> starts, CancellationToken cancellation)
    {
        var world = new BenchZone { Name = "bench grid" };
        var model = registry.GetModel<BenchAvatar>();
        var avatars = new DoId[starts.Count];
        var zones = new uint[starts.Count];
        var index = new Dictionary<DoId, int>(starts.Count);
        allEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref expectedEnters, starts.Count);

        // The AI watches the whole grid only while it waits, so that it does not receive every relay later.
        link.SubscribeRange(this, world.DoId, grid.FirstZone, grid.LastZone);
        link.Publish(InternalMessages.CreateObject(world, DoId.Empty, 0, DoId.Empty, Channel), Channel.StateServer);
        for (int i = 0; i < starts.Count; i++)
        {
            var avatar = new BenchAvatar { X = starts[i].X, Y = starts[i].Y };
            avatars[i] = avatar.DoId;
            zones[i] = grid.ZoneAt(starts[i].X, starts[i].Y, cellSize);
            index[avatar.DoId] = i;
            link.Publish(InternalMessages.CreateObject(avatar, world.DoId, zones[i], DoId.Empty, Channel), Channel.StateServer);
        }

        walking = new WalkingAvatars(world.DoId, grid, cellSize, index, zones,
            model.GetField(nameof(BenchAvatar.X)).WireId, model.GetField(nameof(BenchAvatar.Y)).WireId, model.GetField(nameof(BenchAvatar.SentTicks)).WireId);
        if (starts.Count == 0)
        {
            allEntered.TrySetResult();
        }

        try
        {
            await WaitUntilPlacedAsync("avatars", cancellation).ConfigureAwait(false);
        }
        finally
        {
            link.UnsubscribeRange(this, world.DoId, grid.FirstZone, grid.LastZone);
        }

        return (world, avatars);
    }

    /// <summary>Makes <paramref name="owner"/> (an account) the owner of <paramref name="target"/>.</summary>
    public void SetOwner(DoId target, DoId owner) => link.Publish(InternalMessages.SetOwner(target, owner, Channel), Channel.StateServer);

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

                await WaitUntilPlacedAsync("entities", cancellation).ConfigureAwait(false);
                created += chunk;
            }
        }
        finally
        {
            link.UnsubscribeRange(this, parent, 0, zones - 1);
        }
    }

    /// <summary>Waits until the State Server has placed the expected number of objects; a clear error after <see cref="CreateTimeout"/>.</summary>
    private async Task WaitUntilPlacedAsync(string what, CancellationToken cancellation)
    {
        try
        {
            var placed = allEntered ?? throw new InvalidOperationException("no create is waiting to be placed");
            await placed.Task.WaitAsync(CreateTimeout, cancellation).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new BenchException($"the State Server placed {Volatile.Read(ref enters)} {what} of {Volatile.Read(ref expectedEnters)} expected within {CreateTimeout.TotalSeconds:0} s ({Errors} refusal(s))");
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
    public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
    {
        switch (envelope.Type)
        {
            case InternalMessageType.EnterLocation:
                if (Interlocked.Increment(ref enters) >= Volatile.Read(ref expectedEnters))
                {
                    allEntered?.TrySetResult();
                }

                break;
            case InternalMessageType.ClientSetField:
                OnClientPosition(envelope);
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
            await (link is Pastry.Nats.NatsMessageRouter nats ? nats.FlushAsync(timeout.Token) : ((RemoteMessageRouter)link).FlushAsync(timeout.Token)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await ((IAsyncDisposable)link).DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// A client's SetFields of an avatar (<c>account, count, (field, value)*</c>, checked by the Client Agent): the
    /// AI moves the avatar when its position lies in another cell. Runs on the link's receive loop only, so the
    /// avatars' cells need no lock.
    /// </summary>
    private void OnClientPosition(Envelope envelope)
    {
        var avatars = walking;
        if (avatars is null || !avatars.Index.TryGetValue(envelope.Subject, out int i))
        {
            return;
        }

        var reader = new Wire.WireReader(envelope.Payload.Span);
        reader.ReadDoId();
        int count = reader.ReadUInt16();
        float x = float.NaN, y = float.NaN;
        for (int n = 0; n < count; n++)
        {
            int field = reader.ReadUInt16();
            if (field == avatars.XField)
            {
                x = reader.ReadSingle();
            }
            else if (field == avatars.YField)
            {
                y = reader.ReadSingle();
            }
            else if (field == avatars.SentTicksField)
            {
                reader.ReadInt64();
            }
            else
            {
                return;
            }
        }

        Volatile.Write(ref positions, positions + 1);
        if (float.IsNaN(x) || float.IsNaN(y))
        {
            return;
        }

        uint zone = avatars.Grid.ZoneAt(x, y, avatars.CellSize);
        if (zone != avatars.Zones[i])
        {
            avatars.Zones[i] = zone;
            link.Publish(InternalMessages.SetLocation(envelope.Subject, avatars.World, zone, Channel), stateServer);
            Volatile.Write(ref moves, moves + 1);
        }
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

/// <summary>The grid avatars as the AI knows them: which cell each is in, and the avatar model's field indices.</summary>
internal sealed record WalkingAvatars(DoId World, ZoneGrid Grid, float CellSize, Dictionary<DoId, int> Index, uint[] Zones, int XField, int YField, int SentTicksField);

/// <summary>An OTP process's memory as its diagnostics role reports it.</summary>
internal readonly record struct ServerMemory(long ManagedHeapBytes, long GcCommittedBytes, long WorkingSetBytes);
