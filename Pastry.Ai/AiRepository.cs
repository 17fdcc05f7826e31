using System.Linq.Expressions;
using System.Reactive.Subjects;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Ai.Queries;
using Pastry.Messaging;
using Pastry.Objects;
using Pastry.Wire;
using Channel = Pastry.Messaging.Channel;

namespace Pastry.Ai;

/// <summary>Settings of an <see cref="AiRepository"/>.</summary>
public sealed class AiOptions
{
    /// <summary>The AI's id (its channel); a new one by default.</summary>
    public DoId AiId { get; set; } = DoId.NewId();

    /// <summary>The clock for timers and <see cref="AiRepository.ServerTime"/>. Defaults to the system clock.</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>The longest wait between reconnect attempts after the link to the Message Director drops.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>What the AI proves in the link handshake over TCP (the shared or the privileged secret). Default: none.</summary>
    public MessageDirectorCredentials Credentials { get; set; } = MessageDirectorCredentials.None;

    /// <summary>
    /// The game application this AI runs (the hosted AI sets the class's full name). Over TCP, when it is set and the
    /// link drops (the process dies), the State Server keeps the AI's objects in the world for
    /// <c>StateServer:AiRestartGrace</c>, and the next AI of the same application takes them back with
    /// <see cref="AiRepository.TakeBackAsync"/>; clients see nothing leave. When null, they are deleted at once. Default: null.
    /// </summary>
    public string? Application { get; set; }

    /// <summary>
    /// A secret the AIs of one application share (config <c>Ai:ApplicationKey</c>): the application's first AI pins it in
    /// the State Server, and only an AI that gives the same key may take back or take over that application's objects.
    /// Empty: any AI that names the application may, except that an AI on a participant link of a Message Director with a
    /// secret is refused (396 <see cref="EjectCode.ApplicationKeyRequired"/>). Default: empty.
    /// </summary>
    public string ApplicationKey { get; set; } = string.Empty;

    /// <summary>
    /// Over TCP, the largest frame this AI accepts from the Message Director (config <c>Ai:MaxFrameBytes</c>): a larger
    /// one drops the link (logged with 395) before any of it is buffered, and the AI reconnects. Keep it at least the
    /// OTP's <c>MessageDirector:MaxFrameBytes</c> (4 MiB by default). Default: 16 MiB.
    /// </summary>
    public int MaxFrameBytes { get; set; } = RemoteMessageRouter.DefaultMaxFrameBytes;
}

/// <summary>
/// Game logic's side of Pastry (ARCHITECTURE 5): an AI creates objects with owners, sets any field, moves and deletes
/// objects, calls RPCs on clients, and hears what clients send (already checked by the Client Agent and re-validated
/// here). All callbacks — client sets, client RPCs, timers — run one at a time on the AI's own logic loop, so game
/// code needs no locks. Connect it in-process (<see cref="AiRepository(IMessageRouter, ModelRegistry, AiOptions?, ILogger?)"/>)
/// or over TCP with reconnect (<see cref="ConnectAsync"/>).
/// </summary>
public sealed class AiRepository : IParticipant, IObjectBinding, IAsyncDisposable
{
    private readonly ModelRegistry registry;
    private readonly AiOptions options;
    private readonly ILogger logger;
    private readonly ObjectTable table = new();
    private readonly Channel<Action> logic = System.Threading.Channels.Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private int logicQueued;
    private readonly CancellationTokenSource stop = new();
    private readonly Task logicLoop;
    private readonly (string Host, int Port)? remote;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<uint, PendingRequest> pendingRequests = new();
    private readonly LogicContext logicContext;
    private int nextContext;
    private readonly Subject<DoId> sessionsClosed = new();
    private readonly Subject<RejectedWrite> rejectedWrites = new();
    private readonly Subject<DistributedObject> adopted = new();
    private readonly Subject<AiHandover> handedOver = new();
    private volatile IReadOnlyList<AiDistrict> districts = Array.Empty<AiDistrict>();

    /// <summary>Whether <paramref name="obj"/> is a stored object (activated from the database, or taken back as one): its Db fields are written through.</summary>
    public bool IsStored(DistributedObject obj) => obj is not null && storedObjects.ContainsKey(obj.DoId);

    /// <summary>Objects activated from the database: their Db fields are stored, so writes of their unique fields are acknowledged.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<DoId, byte> storedObjects = new();

    /// <summary>The latest acknowledged write of each (object, unique field) in flight; only its answer may correct the object.</summary>
    private readonly Dictionary<(DoId Object, int Field), long> latestUniqueWrites = new();
    private long nextUniqueWrite;
    /// <summary>Claims (of parked objects, or a take-over) waiting for their done: the entries received so far, by request context.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<uint, (List<Envelope> Entries, TaskCompletionSource<List<DistributedObject>> Done)> claims = new();

    /// <summary>The timers of <see cref="Schedule"/> and <see cref="Every"/> that are not disposed: a hand-over pauses and ends them.</summary>
    private readonly HashSet<LogicTimer> timers = new();

    /// <summary>While this AI hands its objects over: timers that fire are held (one call each) instead of run.</summary>
    private volatile bool timersPaused;

    /// <summary>
    /// 0: no hand-over; 1: handing its objects over (asked by <see cref="InternalMessageType.HandOverAi"/>); 2: handed
    /// over. With several OTP nodes each node's State Server asks and says it finished: the AI answers the first ask
    /// (its <see cref="InternalMessageType.AiHandedOver"/> reaches every node) and acts on the first word that ends it.
    /// </summary>
    private int handOverState;

    /// <summary>While a take-over is under way and the game has not started: closed sessions are kept for <see cref="ResumeRequests"/>.</summary>
    private volatile bool holdingSessionEvents;

    /// <summary>1 once this AI took over another and has not yet told the State Server that its game started.</summary>
    private int tookOver;

    /// <summary>Completes when a rolling upgrade took this AI's objects over (see <see cref="TakenOver"/>).</summary>
    private readonly TaskCompletionSource takenOver = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>The session that holds each logged-in account, from the Client Agents' claims; touched only on the logic loop.</summary>
    private readonly AccountSessions accountSessions = new();
    private bool accountSessionsFull;

    /// <summary>Accounts whose session closed while no AI was there, told with a claim; touched only on the logic loop.</summary>
    private readonly List<DoId> closedWhileAway = new();
    private volatile IMessageRouter router;
    private Task reconnectLoop = Task.CompletedTask;
    private int disposed;

    /// <summary>Creates an AI on a router in this process (the embedded <c>--role all</c> mode, or tests).</summary>
    public AiRepository(IMessageRouter router, ModelRegistry registry, AiOptions? options = null, ILogger? logger = null)
    {
        this.router = router;
        this.registry = registry;
        this.options = options ?? new AiOptions();
        this.logger = logger ?? NullLogger.Instance;
        Channel = Channel.ForParticipant(this.options.AiId);
        logicContext = new LogicContext(this);
        router.Subscribe(this, Channel);
        router.Subscribe(this, Channel.SessionEvents);
        if (router is IPostRemoveRouter cleanup)
        {
            // A process of its own (over the MD link or a backplane): the server deletes this AI's objects if it dies.
            RegisterCleanup(cleanup);
            cleanup.PostRemovesRan += OnPostRemovesRan;
        }

        logicLoop = Task.Run(RunLogicAsync);
        AiMetrics.Add(this);
    }

    private AiRepository(RemoteMessageRouter router, (string Host, int Port) remote, ModelRegistry registry, AiOptions options, ILogger logger)
        : this(router, registry, options, logger)
    {
        this.remote = remote;
        reconnectLoop = Task.Run(() => KeepConnectedAsync(router));
    }

    /// <summary>The AI's channel; objects it creates name it as their AI.</summary>
    public Channel Channel { get; }

    /// <summary>A name for logs.</summary>
    public string Name => $"ai {Channel.Id}";

    /// <summary>The server's time (the AI runs beside the server, so it is the AI's clock).</summary>
    public DateTime ServerTime => options.Time.GetUtcNow().UtcDateTime;

    /// <summary>During a client's set or RPC on the logic loop: the caller's account; otherwise <see cref="DoId.Empty"/>.</summary>
    public DoId CurrentSender { get; private set; }

    /// <summary>
    /// The accounts whose logged-in session just closed (logout, disconnect, eject, timeout), on the logic loop: the
    /// place to save and unload a player.
    /// </summary>
    public IObservable<DoId> SessionsClosed => sessionsClosed;

    /// <summary>
    /// Writes of live objects that the database refused, on the logic loop: a plain set of a <c>[Unique]</c> field to a
    /// value another stored object holds (<see cref="RejectedWrite.Error"/> is then a <see cref="UniqueViolationException"/>
    /// naming the field), or one the database could not store. By the time it arrives, the object, the State Server's
    /// copy and every viewer are back on the stored value (<see cref="RejectedWrite.StoredValue"/>). Use
    /// <see cref="SaveAsync{T, TValue}"/> to await the outcome of one write instead.
    /// </summary>
    public IObservable<RejectedWrite> RejectedWrites => rejectedWrites;

    /// <summary>
    /// Objects another AI handed over to this one (they moved into a district this AI serves, or that AI called
    /// <see cref="HandOver"/>), on the logic loop, already in <see cref="Objects"/> with the values the State Server
    /// holds: the place to start their timers. Client sets and RPCs of the object come here from then on. Stored
    /// objects then have their Db fields read back from the database (differences arrive as updates).
    /// </summary>
    public IObservable<DistributedObject> Adopted => adopted;

    /// <summary>
    /// Objects this AI handed over to another AI, on the logic loop: the place to stop their timers and forget them. The
    /// handler may read the object; right after it, the object is disabled here (touching it throws). Sets of it that
    /// this AI sent after the State Server handed it over (the handler's too) are dropped there; an RPC call is still relayed.
    /// </summary>
    public IObservable<AiHandover> HandedOver => handedOver;

    /// <summary>The districts this AI serves (see <see cref="Serve"/>); empty while it serves none.</summary>
    public IReadOnlyList<AiDistrict> Districts => districts;

    /// <summary>
    /// Whether this AI serves <c>(parent, zone)</c>: it lies in one of its <see cref="Districts"/>, or the AI serves no
    /// district at all (a lone AI serves the whole world). Game logic uses it to spawn only what is its own.
    /// </summary>
    public bool Serves(DoId parent, uint zone)
    {
        var served = districts;
        return served.Count == 0 || served.Any(d => d.Contains(parent, zone));
    }

    /// <summary>
    /// Tells the State Server which districts this AI serves, replacing what it said before: from now on an object that
    /// moves into one of them while another AI handles it is handed over to this AI (<see cref="Adopted"/>), in the same
    /// step as the move, so that viewers see only the move. Said again after a reconnect. The hosted AI calls it with
    /// <c>Ai:Districts</c>.
    /// </summary>
    public void Serve(IEnumerable<AiDistrict> served)
    {
        ArgumentNullException.ThrowIfNull(served);
        var list = served.ToArray();
        districts = list;
        router.Publish(ServeDistrictsMessage(list), Channel.StateServer);
    }

    /// <summary>
    /// Hands <paramref name="obj"/> over to the AI <paramref name="aiId"/> now, wherever the object is. That AI must
    /// serve some district (it said so with <see cref="Serve"/>, which is how the server knows it is connected);
    /// otherwise the object stays here and the server's refusal is logged. The object stays in this AI until the server's
    /// release arrives (<see cref="HandedOver"/>).
    /// </summary>
    public void HandOver(DistributedObject obj, DoId aiId)
    {
        ArgumentNullException.ThrowIfNull(obj);
        obj.EnsureUsable();
        router.Publish(InternalMessages.HandOverObject(obj.DoId, Channel.ForParticipant(aiId), Channel), Channel.StateServer);
    }

    private Envelope ServeDistrictsMessage(IReadOnlyList<AiDistrict> served) =>
        InternalMessages.ServeDistricts(Channel, served.Select(d => (d.Parent, d.FirstZone, d.LastZone)).ToArray());

    /// <summary>
    /// Whether the AI can reach the Message Director: always in the OTP's process; over TCP, while its link is up
    /// (false while it reconnects and after it is disposed).
    /// </summary>
    public bool IsConnected => Volatile.Read(ref disposed) == 0 && (router is not RemoteMessageRouter link || !link.Closed.IsCompleted);

    /// <summary>How many objects this AI created that still exist.</summary>
    public int ObjectCount => table.Count;

    /// <summary>Callbacks waiting on the logic loop (counted here: a single-reader channel cannot count its items).</summary>
    internal int LogicQueueDepth => Volatile.Read(ref logicQueued);

    /// <summary>The objects this AI created that still exist.</summary>
    public IReadOnlyCollection<DistributedObject> Objects => table.Snapshot();

    /// <summary>
    /// Connects to the Message Director of <c>pastry serve --role otp</c> over TCP. If the link drops, the AI
    /// reconnects with back-off and creates its live objects again (the server deleted them when the link dropped).
    /// </summary>
    public static async Task<AiRepository> ConnectAsync(string host, int port, ModelRegistry registry, AiOptions? options = null, ILogger? logger = null, CancellationToken cancellation = default)
    {
        options ??= new AiOptions();
        if (options.MaxFrameBytes < 1024)
        {
            throw new ArgumentException($"Ai:MaxFrameBytes (AiOptions.MaxFrameBytes) must be at least 1024; got {options.MaxFrameBytes}.", nameof(options));
        }

        var router = await RemoteMessageRouter.ConnectAsync(host, port, options.Credentials, options.MaxFrameBytes, cancellation).ConfigureAwait(false);
        return new AiRepository(router, (host, port), registry, options, logger ?? NullLogger.Instance);
    }

    /// <summary>
    /// Creates <paramref name="obj"/> on the server at <c>(parent, zone)</c>, owned by <paramref name="owner"/> (an
    /// account; empty means this AI). It runs <see cref="DistributedObject.FullClean"/> first, so an object with a
    /// missing Required field or a bad value is refused here, with every problem listed. Created inside a district
    /// another AI serves, it is handed over to that AI at once (<see cref="HandedOver"/> follows).
    /// </summary>
    public T Create<T>(T obj, DoId parent, uint zone, DoId owner = default)
        where T : DistributedObject
    {
        obj.FullClean();
        obj.Owner = owner;
        obj.Parent = parent;
        obj.Zone = zone;
        var streams = table.Track(obj, this);
        router.Publish(InternalMessages.CreateObject(obj, parent, zone, owner, Channel), Channel.StateServer);
        streams.Created.OnNext(obj);
        return obj;
    }

    /// <summary>Moves an object to <c>(parent, zone)</c>; clients get a Location, a leave or an enter, as each sees it.</summary>
    public void Move(DistributedObject obj, DoId parent, uint zone)
    {
        obj.EnsureUsable();
        obj.Parent = parent;
        obj.Zone = zone;
        router.Publish(InternalMessages.SetLocation(obj.DoId, parent, zone, Channel), Channel.StateServer);
    }

    /// <summary>Gives an object to another owner (an account), who may then send its <c>[OwnSend]</c> fields.</summary>
    public void SetOwner(DistributedObject obj, DoId owner)
    {
        obj.EnsureUsable();
        obj.Owner = owner;
        router.Publish(InternalMessages.SetOwner(obj.DoId, owner, Channel), Channel.StateServer);
    }

    /// <summary>Deletes an object and its children on the server; clients see LeaveObject(Deleted).</summary>
    public void Delete(DistributedObject obj)
    {
        obj.EnsureUsable();
        router.Publish(InternalMessages.DeleteObject(obj.DoId, Channel), Channel.StateServer);
        Forget(obj.DoId, ObjectState.Deleted);
    }

    /// <summary>
    /// Calls a <c>[Distributed]</c> method on the clients, for example <c>ai.Call(npc, n =&gt; n.Say("Welcome!"))</c>:
    /// a <c>[Broadcast]</c> method reaches every client with interest, any other only the owner.
    /// </summary>
    public void Call<T>(T target, Expression<Action<T>> call)
        where T : DistributedObject<T>
    {
        var (method, arguments) = RpcCall.Parse(call);
        Call(target, method, arguments);
    }

    /// <summary>Calls a <c>[Distributed]</c> method on the clients by descriptor.</summary>
    public void Call(DistributedObject target, MethodDescriptor method, params object?[] arguments)
    {
        target.EnsureUsable();
        var problems = method.ValidateArguments(target, arguments);
        if (problems is not null)
        {
            throw new ModelValidationException(target.Model.Name, problems);
        }

        router.Publish(InternalMessages.CallMethod(target.DoId, method, arguments, Channel), Channel.StateServer);
    }

    /// <summary>The streams of model <typeparamref name="T"/> on this AI.</summary>
    public AiClassEvents<T> Of<T>()
        where T : DistributedObject<T> => new(table.StreamsOf(registry.GetModel<T>()));

    /// <summary>
    /// Runs <paramref name="action"/> on the logic loop after <paramref name="delay"/>. Dispose the result to cancel.
    /// A rolling upgrade stops it in this AI (the new AI's game starts its own).
    /// </summary>
    public IDisposable Schedule(TimeSpan delay, Action action) => new LogicTimer(this, action, delay, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Runs <paramref name="action"/> on the logic loop every <paramref name="period"/>. Dispose the result to stop.
    /// A rolling upgrade stops it in this AI (the new AI's game starts its own).
    /// </summary>
    public IDisposable Every(TimeSpan period, Action action) => new LogicTimer(this, action, period, period);

    /// <summary>
    /// Completes when a rolling upgrade took this AI's objects over (a new AI of its application asked the State Server
    /// with <see cref="TakeOverAsync"/>): this AI stopped its timers, finished its queued work and database requests, and
    /// its objects are the new AI's (here they are disabled). Its host should stop now; the hosted AI does.
    /// </summary>
    public Task TakenOver => takenOver.Task;

    /// <summary>Runs <paramref name="action"/> on the logic loop, after everything queued before it.</summary>
    public void Post(Action action) => TryQueueLogic(action);

    /// <summary>Runs <paramref name="action"/> on the logic loop and waits for it.</summary>
    public Task InvokeAsync(Action action)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                action();
                done.TrySetResult(true);
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        });
        return done.Task;
    }

    /// <summary>
    /// Stores a new object in the database (its assigned Db fields; the rest get their defaults) and waits for the
    /// commit. It is not in RAM yet: <see cref="ActivateAsync{T}"/> brings it into the world.
    /// </summary>
    /// <exception cref="DatabaseRequestException">The database refused it (for example the DoId exists) or failed.</exception>
    public async Task<T> CreateInDatabaseAsync<T>(T obj, CancellationToken cancellation = default)
        where T : DistributedObject
    {
        obj.FullClean();
        await RequestAsync(context => DatabaseMessages.CreateObject(context, obj, Channel), Channel.Database, obj.Model, cancellation).ConfigureAwait(false);
        return obj;
    }

    /// <summary>
    /// Activates a stored object: the State Server loads its Db fields and places it at <c>(parent, zone)</c>, where it
    /// behaves like any object this AI created; its Db fields are written through to the database on every change.
    /// Returns this AI's live copy, or null when no object of that class is stored under <paramref name="id"/>.
    /// Several AIs (districts): activated inside another AI's district, it is handed over to that AI right after
    /// (<see cref="HandedOver"/>); already live with another AI and asked for at a place this AI serves, it moves there
    /// and becomes this AI's with its live values (the copy returned is the one <see cref="Adopted"/> raised).
    /// </summary>
    /// <exception cref="DatabaseRequestException">The stored data is bad (the reason names the field), or the object is already active.</exception>
    public async Task<T?> ActivateAsync<T>(DoId id, DoId parent, uint zone, DoId owner = default, CancellationToken cancellation = default)
        where T : DistributedObject<T>
    {
        var model = registry.GetModel<T>();
        T? activated = null;
        var reply = await RequestAsync(context => DatabaseMessages.ActivateObject(context, model, id, parent, zone, owner, Channel), Channel.StateServer, model, cancellation, DatabaseStatus.NotFound, answer => Track(answer)).ConfigureAwait(false);
        return reply.Status == DatabaseStatus.NotFound ? null : activated ?? Track(reply);

        // On the logic loop, in the order the State Server's messages arrive: the object is this AI's before a handover
        // that follows its activation (it was activated inside another AI's district) can take it away. When the object
        // was live with another AI, the State Server handed it over to this one first (Adopted): that copy is the one.
        T Track(DatabaseReply answer)
        {
            if (answer.Status != DatabaseStatus.Ok || activated is not null)
            {
                return activated!;
            }

            if (table.TryGet(id, out var adopted) && adopted is T live)
            {
                return activated = live;
            }

            var obj = (T)model.CreateInstance();
            obj.DoId = id;
            obj.Owner = owner;
            obj.Parent = parent;
            obj.Zone = zone;
            foreach (var pair in answer.Values)
            {
                model.GetField(pair.Key).SetBoxed(obj, pair.Value);
            }

            storedObjects[id] = 0;
            table.Track(obj, this).Created.OnNext(obj);
            return activated = obj;
        }
    }

    /// <summary>
    /// Compare and swap in the database, then in the world: writes <paramref name="value"/> to the field only if the
    /// stored value is still <paramref name="expected"/> (for example spending gold without a race). On success the
    /// live object gets the new value too; on failure it gets the stored value, and the method returns false. Either
    /// way the State Server's copy and every viewer follow this AI's copy, without a second write to the database (one
    /// that went through the State Server could arrive after, and undo, a later compare-and-swap).
    /// </summary>
    public async Task<bool> SetIfEqualsAsync<T, TValue>(T obj, System.Linq.Expressions.Expression<Func<T, TValue>> property, TValue expected, TValue value, CancellationToken cancellation = default)
        where T : DistributedObject<T>
    {
        var field = DbFieldOf(obj.Model, property, "set-if-equals compares stored values");

        var reply = await RequestAsync(context => DatabaseMessages.SetFieldsIfEquals(context, obj.Model, obj.DoId, Channel, (field, expected, value)), Channel.Database, obj.Model, cancellation, DatabaseStatus.NotEqual, OnReply).ConfigureAwait(false);
        return reply.Status == DatabaseStatus.Ok;

        void OnReply(DatabaseReply reply)
        {
            // The reply carries the stored value after the request: the new value when it won, the winner's when it lost.
            if (reply.Status is DatabaseStatus.Ok or DatabaseStatus.NotEqual && reply.Values.TryGetValue(field.Name, out var stored))
            {
                ApplyStored(obj, field, stored, reply.Status == DatabaseStatus.Ok ? ChangeOrigin.Local : ChangeOrigin.Remote, alwaysSend: false);
            }
        }
    }

    /// <summary>
    /// Puts a value the database holds into this AI's copy and, when it changed (or <paramref name="alwaysSend"/>), into
    /// the State Server's copy and the viewers' with <see cref="InternalMessageType.SetFieldsStored"/>, which is not
    /// written through. Keeping this copy and the State Server's equal is what lets a later "no change" send nothing.
    /// </summary>
    private void ApplyStored(DistributedObject obj, FieldDescriptor field, object? value, ChangeOrigin origin, bool alwaysSend)
    {
        lock (obj.Sync)
        {
            bool changed = field.ApplyChecked(obj, value, origin);
            if ((changed || alwaysSend) && obj.State == ObjectState.Live && ReferenceEquals(obj.Binding, this))
            {
                router.Publish(InternalMessages.SetFieldStored(obj, field, Channel), Channel.StateServer);
            }
        }
    }

    /// <summary>
    /// Writes one Db field to the database and waits for the commit, then sets it on <paramref name="obj"/> (and, if the
    /// object is live, on the State Server's copy and the viewers', without writing it again). Use it for
    /// <c>[Unique]</c> fields when the game wants the answer: a value another object holds fails here with
    /// <see cref="UniqueViolationException"/> and changes nothing. (A plain set of a unique field is also checked
    /// before the world sees it, and a refusal arrives on <see cref="RejectedWrites"/>.)
    /// </summary>
    /// <exception cref="UniqueViolationException">Another stored object holds the value.</exception>
    /// <exception cref="ModelValidationException">The value fails the field's clean method or validators.</exception>
    /// <exception cref="DatabaseRequestException">The object is not stored, or the database failed.</exception>
    public async Task SaveAsync<T, TValue>(T obj, Expression<Func<T, TValue>> property, TValue value, CancellationToken cancellation = default)
        where T : DistributedObject<T>
    {
        ArgumentNullException.ThrowIfNull(obj);
        var field = DbFieldOf(obj.Model, property, "save writes stored values");
        var cleaned = field.Checked(obj, value);
        // Stored; then this copy, and, for a live object, the State Server and the clients (not written through again).
        await RequestAsync(context => DatabaseMessages.SetFields(context, obj.Model, obj.DoId, Channel, (field, cleaned)), Channel.Database, obj.Model, cancellation, onReply: reply =>
        {
            if (reply.Status == DatabaseStatus.Ok)
            {
                ApplyStored(obj, field, cleaned, ChangeOrigin.Local, alwaysSend: false);
            }
        }).ConfigureAwait(false);
    }

    /// <summary>The Db field a property expression names, for APIs that work on stored values.</summary>
    private static FieldDescriptor<TValue> DbFieldOf<T, TValue>(ModelInfo model, Expression<Func<T, TValue>> property, string why)
    {
        if (property.Body is not MemberExpression { Member: var member } || !model.TryGetField(member.Name, out var found))
        {
            throw new ArgumentException($"Pass a field of the model, for example p => p.Gold.", nameof(property));
        }

        var field = (FieldDescriptor<TValue>)found;
        if (!field.IsDb)
        {
            throw new ArgumentException($"{field} is not [Db]; {why}.", nameof(property));
        }

        return field;
    }

    /// <summary>Deletes a stored object from the database (an active copy stays in RAM until <see cref="Delete"/>).</summary>
    public Task DeleteFromDatabaseAsync(DistributedObject obj, CancellationToken cancellation = default) =>
        RequestAsync(context => DatabaseMessages.DeleteObject(context, obj.Model, obj.DoId, Channel), Channel.Database, obj.Model, cancellation);

    /// <inheritdoc />
    public void Deliver(Envelope envelope, ReadOnlySpan<Pastry.Messaging.Channel> targets)
    {
        switch (envelope.Type)
        {
            case InternalMessageType.ClaimedAiObject:
            case InternalMessageType.ClaimedSessionClosed:
            case InternalMessageType.AiClaimRefused:
            case InternalMessageType.QueryDone when envelope.Payload.Length >= 4 && claims.ContainsKey(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span)):
                OnClaimAnswer(envelope);
                return;
            case InternalMessageType.HandOverAi:
                OnHandOverAsked(envelope);
                return;
            case InternalMessageType.AiHandOverFinished:
                OnHandOverFinished(envelope);
                return;
            case InternalMessageType.DbCreateObjectResp:
            case InternalMessageType.DbGetAllResp:
            case InternalMessageType.DbSetFieldsAck:
            case InternalMessageType.DbSetFieldsIfEqualsResp:
            case InternalMessageType.DbDeleteObjectResp:
            case InternalMessageType.DbQueryResp:
            case InternalMessageType.ActivateObjectResp:
                if (envelope.Payload.Length >= 4 && pendingRequests.TryRemove(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span), out var pending))
                {
                    if (pending.OnReply is { } onReply)
                    {
                        // Replies arrive in the database's order; applying them through the logic loop's queue keeps
                        // that order (continuations on the thread pool could apply an older stored value after a newer one).
                        bool queued = TryQueueLogic(() =>
                        {
                            try
                            {
                                onReply(envelope);
                            }
                            finally
                            {
                                pending.Answer.TrySetResult(envelope);
                            }
                        });
                        if (!queued)
                        {
                            // The AI is stopping: nothing is applied any more, but the caller still gets its answer.
                            pending.Answer.TrySetResult(envelope);
                        }
                    }
                    else
                    {
                        pending.Answer.TrySetResult(envelope);
                    }
                }

                return;
            default:
                Post(() => Handle(envelope));
                return;
        }
    }

    /// <summary>
    /// Starts a typed query of the stored objects of <typeparamref name="T"/>, answered by the Database role in one
    /// round trip (see <see cref="DbQuery{T}"/>).
    /// </summary>
    public DbQuery<T> Query<T>()
        where T : DistributedObject<T> => new(this, registry.GetModel<T>());

    /// <summary>Sends one request to the Database role and waits for its reply (matched by context).</summary>
    /// <param name="build">Builds the request for a context.</param>
    /// <param name="cancellation">Stops waiting (the request may still be done).</param>
    /// <param name="target">The Database role unless given.</param>
    /// <param name="onReply">Runs on the logic loop before the answer is returned, in the order the replies arrive.</param>
    internal async Task<Envelope> SendDatabaseRequestAsync(Func<uint, Envelope> build, CancellationToken cancellation, Channel? target = null, Action<Envelope>? onReply = null)
    {
        uint context = (uint)Interlocked.Increment(ref nextContext);
        var answer = new TaskCompletionSource<Envelope>(TaskCreationOptions.RunContinuationsAsynchronously);
        pendingRequests[context] = new PendingRequest(answer, onReply);
        try
        {
            router.Publish(build(context), target ?? Channel.Database);
            using var registration = cancellation.Register(() => answer.TrySetCanceled(cancellation));
            return await answer.Task.ConfigureAwait(true);
        }
        finally
        {
            pendingRequests.TryRemove(context, out _);
        }
    }

    /// <summary>A query left out a stored row with bad data: say so, as activation does.</summary>
    internal void LogBadRow(string reason) => logger.LogError("{Ai}: query skipped a row: {Reason}", Name, reason);

    private async Task<DatabaseReply> RequestAsync(Func<uint, Envelope> build, Channel target, ModelInfo model, CancellationToken cancellation, DatabaseStatus alsoAccepted = DatabaseStatus.Ok, Action<DatabaseReply>? onReply = null)
    {
        Action<Envelope>? apply = onReply is null ? null : envelope => onReply(DatabaseMessages.ReadReply(envelope, model));
        var reply = DatabaseMessages.ReadReply(await SendDatabaseRequestAsync(build, cancellation, target, apply).ConfigureAwait(true), model);
        if (reply.Status != DatabaseStatus.Ok && reply.Status != alsoAccepted)
        {
            throw DatabaseRequestException.From(reply, model);
        }

        return reply;
    }

    /// <summary>Stops the logic loop and, over TCP, closes the link (the server then deletes this AI's objects).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        AiMetrics.Remove(this);
        stop.Cancel();
        logic.Writer.TryComplete();
        router.UnsubscribeAll(this);
        if (router is IPostRemoveRouter cleanup)
        {
            cleanup.PostRemovesRan -= OnPostRemovesRan;
        }

        if (router is RemoteMessageRouter link)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(logicLoop, reconnectLoop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        // The objects stay as they are (the server deletes them when the link drops); their classes' streams end.
        table.Close(remaining: null);

        sessionsClosed.OnCompleted();
        sessionsClosed.Dispose();
        rejectedWrites.OnCompleted();
        rejectedWrites.Dispose();
        adopted.OnCompleted();
        adopted.Dispose();
        handedOver.OnCompleted();
        handedOver.Dispose();

        stop.Dispose();
    }

    /// <inheritdoc />
    void IObjectBinding.CheckLocalSet(DistributedObject target, FieldDescriptor field)
    {
    }

    /// <inheritdoc />
    void IObjectBinding.OnLocalSet(DistributedObject target, FieldDescriptor field)
    {
        if (field.IsUnique && field.IsDb && storedObjects.ContainsKey(target.DoId))
        {
            // The database may refuse this value: write it with an answer first, and let the world see it only then.
            WriteUnique(target, field);
            return;
        }

        router.Publish(InternalMessages.SetField(target, field, Channel), Channel.StateServer);
    }

    /// <summary>
    /// Sends a plain set of a stored object's unique field to the database as an acknowledged write (under the
    /// object's lock, so writes of one field reach the database in the order they were set). The State Server and the
    /// viewers get the value once it is committed; a refusal puts the stored value back (see <see cref="OnUniqueWriteAnswered"/>).
    /// </summary>
    private void WriteUnique(DistributedObject obj, FieldDescriptor field)
    {
        object? value = field.GetBoxed(obj);
        long write;
        lock (latestUniqueWrites)
        {
            write = ++nextUniqueWrite;
            latestUniqueWrites[(obj.DoId, field.Index)] = write;
        }

        _ = ObserveAsync(SendDatabaseRequestAsync(
            context => DatabaseMessages.SetFields(context, obj.Model, obj.DoId, Channel, (field, value)),
            stop.Token,
            onReply: envelope => OnUniqueWriteAnswered(obj, field, value, write, DatabaseMessages.ReadReply(envelope, obj.Model))));
    }

    /// <summary>
    /// The answer to <see cref="WriteUnique"/>, on the logic loop in the order the answers arrive. Only the answer to
    /// the latest write of the field may move the world: committed, its value goes to the State Server; refused, the
    /// stored value is read again (after every earlier write of the field) and put back on this copy, the State Server
    /// and the viewers. Every refusal is published on <see cref="RejectedWrites"/>.
    /// </summary>
    private void OnUniqueWriteAnswered(DistributedObject obj, FieldDescriptor field, object? value, long write, DatabaseReply reply)
    {
        bool latest = IsLatest(obj, field, write);
        if (reply.Status == DatabaseStatus.Ok)
        {
            if (latest)
            {
                Forget(obj, field, write);
                if (obj.State == ObjectState.Live)
                {
                    // This copy holds the value (no later set of the field): now the State Server and the viewers.
                    lock (obj.Sync)
                    {
                        router.Publish(InternalMessages.SetFieldStored(obj, field, Channel), Channel.StateServer);
                    }
                }
            }

            return;
        }

        var refusal = DatabaseRequestException.From(reply, obj.Model);
        logger.LogWarning("{Ai}: the database refused {Field} = {Value} on {DoId}: {Reason}", Name, field, field.FormatBoxed(value), obj.DoId, refusal.Reason);
        if (!latest || obj.State != ObjectState.Live)
        {
            // A later set of the field decides what the world sees.
            rejectedWrites.OnNext(new RejectedWrite(obj, field, value, field.GetBoxed(obj), refusal));
            return;
        }

        // An earlier write of the field may have been committed without reaching the State Server: read the stored
        // value again (this request follows every earlier one) and always send it.
        _ = ObserveAsync(SendDatabaseRequestAsync(
            context => DatabaseMessages.GetAll(context, obj.Model, obj.DoId, Channel),
            stop.Token,
            onReply: envelope =>
            {
                var current = DatabaseMessages.ReadReply(envelope, obj.Model);
                if (IsLatest(obj, field, write) && current.Status == DatabaseStatus.Ok && current.Values.TryGetValue(field.Name, out var stored) && obj.State == ObjectState.Live)
                {
                    Forget(obj, field, write);
                    ApplyStored(obj, field, stored, ChangeOrigin.Remote, alwaysSend: true);
                }
                else if (current.Status != DatabaseStatus.Ok)
                {
                    logger.LogError("{Ai}: the write of {Field} on {DoId} was refused and its stored value could not be read back: {Reason}", Name, field, obj.DoId, current.Reason);
                }

                rejectedWrites.OnNext(new RejectedWrite(obj, field, value, field.GetBoxed(obj), refusal));
            }));
    }

    /// <summary>Awaits a request whose answer is handled by its reply callback; only a stop (cancellation) is expected.</summary>
    private async Task ObserveAsync(Task<Envelope> request)
    {
        try
        {
            await request.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The AI stopped before the answer came.
        }
    }

    private void Forget(DistributedObject obj, FieldDescriptor field, long write)
    {
        lock (latestUniqueWrites)
        {
            if (latestUniqueWrites.TryGetValue((obj.DoId, field.Index), out long last) && last == write)
            {
                latestUniqueWrites.Remove((obj.DoId, field.Index));
            }
        }
    }

    private bool IsLatest(DistributedObject obj, FieldDescriptor field, long write)
    {
        lock (latestUniqueWrites)
        {
            return latestUniqueWrites.TryGetValue((obj.DoId, field.Index), out long last) && last == write;
        }
    }

    private void Handle(Envelope envelope)
    {
        switch (envelope.Type)
        {
            case InternalMessageType.ClientSetField:
                OnClientSet(envelope);
                break;
            case InternalMessageType.ClientCallMethod:
                OnClientCall(envelope);
                break;
            case InternalMessageType.ObjectDeleted:
                Forget(envelope.Subject, ObjectState.Deleted);
                break;
            case InternalMessageType.AccountClaimed:
                OnAccountClaimed(envelope);
                break;
            case InternalMessageType.SessionClosed:
                if (!accountSessions.OnClosed(envelope.Subject, envelope.Sender, out var holder))
                {
                    // A session that no longer holds its account (its node died and the account logged in again
                    // elsewhere before the survivors said so): its close must not unload the new session's player.
                    logger.LogInformation("{Ai}: the session {Session} of account {Account} closed, but {Holder} holds the account now (it logged in again); its objects stay", Name, envelope.Sender, envelope.Subject, holder);
                    break;
                }

                if (holdingSessionEvents)
                {
                    // Taking over: the game has not subscribed yet, and the objects of this account may be among those coming.
                    closedWhileAway.Add(envelope.Subject);
                }
                else
                {
                    sessionsClosed.OnNext(envelope.Subject);
                }

                break;
            case InternalMessageType.AdoptedAiObject:
                OnAdopted(envelope);
                break;
            case InternalMessageType.ReleasedAiObject:
                OnReleased(envelope);
                break;
            case InternalMessageType.Error:
                logger.LogWarning("The server refused a request of {Ai} about {DoId}: {Reason}", Name, envelope.Subject, new WireReader(envelope.Payload.Span).ReadString());
                break;
        }
    }

    private void OnClientSet(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var account = reader.ReadDoId();
        int count = reader.ReadUInt16();
        if (!TryGetObject(envelope.Subject, out var obj))
        {
            return;
        }

        CurrentSender = account;
        try
        {
            for (int i = 0; i < count; i++)
            {
                int wireId = reader.ReadUInt16();
                var field = obj.Model.FindFieldByWireId(wireId) ?? throw new WireFormatException(WireError.UnknownMember, $"{obj.Model.Name} has no field {wireId}");
                field.DecodeAndApply(obj, ref reader, ChangeOrigin.Remote, validate: true);
            }
        }
        catch (ModelValidationException ex)
        {
            // The Client Agent checked this value with the same model; a difference means the two sides disagree.
            logger.LogWarning("{Ai}: a value from account {Account} passed the Client Agent but fails here: {Message}", Name, account, ex.Message);
        }
        finally
        {
            CurrentSender = DoId.Empty;
        }
    }

    private void OnClientCall(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var account = reader.ReadDoId();
        int index = reader.ReadUInt16();
        if (!TryGetObject(envelope.Subject, out var obj) || obj.Model.FindMethodByWireId(index) is not { } method)
        {
            return;
        }

        var arguments = method.DecodeArguments(ref reader);
        var problems = method.ValidateArguments(obj, arguments);
        if (problems is not null)
        {
            logger.LogWarning("{Ai}: RPC {Method} from account {Account} fails validation here: {Problems}", Name, method, account, string.Join("; ", problems.Select(p => p.Key + ": " + string.Join(", ", p.Value))));
            return;
        }

        CurrentSender = account;
        try
        {
            method.Invoke(obj, arguments);
            table.StreamsOf(obj.Model).Calls.OnNext(new RpcCall(obj, method, arguments, account));
        }
        finally
        {
            CurrentSender = DoId.Empty;
        }
    }

    private bool TryGetObject(DoId id, out DistributedObject obj) => table.TryGet(id, out obj!);

    /// <summary>A login's claim of its account (on the logic loop, in order with the closes): its session holds the account now.</summary>
    private void OnAccountClaimed(Envelope envelope)
    {
        if (envelope.Sender.Kind != ChannelKind.Session || envelope.Payload.Length < 8)
        {
            return;
        }

        long stamp = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(envelope.Payload.Span);
        if (!accountSessions.OnClaimed(envelope.Subject, envelope.Sender, stamp) && !accountSessionsFull)
        {
            accountSessionsFull = true;
            logger.LogWarning("{Ai}: {Count} logged-in accounts are tracked, the most it keeps; the closes of accounts beyond them are raised whichever session sends them (logged once)", Name, accountSessions.Capacity);
        }
    }

    /// <summary>
    /// Another AI handed an object over to this one: it becomes this AI's with the State Server's values, and a stored
    /// one has its Db fields read back from the database (the old AI may have committed a write whose value the State
    /// Server refused after the handover); the reply is applied in order with every other database reply.
    /// </summary>
    private void OnAdopted(Envelope envelope)
    {
        if (Restore(envelope, announceCreated: false) is not { } obj)
        {
            return;
        }

        logger.LogInformation("{Ai}: adopted {Model} {DoId} at {Parent}:{Zone}", Name, obj.Model.Name, obj.DoId, obj.Parent, obj.Zone);
        if (storedObjects.ContainsKey(obj.DoId))
        {
            var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var reload = SendDatabaseRequestAsync(context => DatabaseMessages.GetAll(context, obj.Model, obj.DoId, Channel), timeout.Token, onReply: reply =>
            {
                var stored = DatabaseMessages.ReadReply(reply, obj.Model);
                if (stored.Status != DatabaseStatus.Ok)
                {
                    logger.LogWarning("{Ai}: adopted {Model} {DoId}, but its stored row could not be read ({Status}: {Reason}); it keeps the State Server's values", Name, obj.Model.Name, obj.DoId, stored.Status, stored.Reason);
                    return;
                }

                if (obj.State == ObjectState.Live && ReferenceEquals(obj.Binding, this))
                {
                    foreach (var (name, value) in stored.Values)
                    {
                        if (obj.Model.TryGetField(name, out var field) && field.IsDb)
                        {
                            ApplyStored(obj, field, value, ChangeOrigin.Remote, alwaysSend: false);
                        }
                    }
                }
            });
            _ = ObserveAsync(reload).ContinueWith(_ => timeout.Dispose(), TaskScheduler.Default);
        }

        adopted.OnNext(obj);
    }

    /// <summary>This AI's object was handed over to another AI: it leaves this AI (disabled) and the game hears it.</summary>
    private void OnReleased(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var to = Channel.Read(ref reader);
        if (!table.TryGet(envelope.Subject, out var obj))
        {
            return;
        }

        logger.LogInformation("{Ai}: handed {Model} {DoId} over to {To}", Name, obj.Model.Name, obj.DoId, to);
        try
        {
            // The game reads the object's last values here (it is still live); what it sets now is refused by the server.
            handedOver.OnNext(new AiHandover(obj, to));
        }
        finally
        {
            storedObjects.TryRemove(obj.DoId, out _);
            table.Remove(obj.DoId, ObjectState.Disabled, out _);
        }
    }

    private void Forget(DoId id, ObjectState state)
    {
        storedObjects.TryRemove(id, out _);
        table.Remove(id, state, out _);
    }

    private bool TryQueueLogic(Action action)
    {
        Interlocked.Increment(ref logicQueued);
        if (logic.Writer.TryWrite(action))
        {
            return true;
        }

        Interlocked.Decrement(ref logicQueued);
        return false;
    }

    /// <summary>
    /// Takes back the objects the State Server kept for this AI's application (<see cref="AiOptions.Application"/>)
    /// after an AI of it died: they become this AI's, with the values the State Server holds (where clients moved
    /// them meanwhile), and those of stored objects are read back from the database (the truth for Db fields; the dead
    /// AI may have committed a write that never reached the State Server). Call it once the AI is connected and before
    /// the game spawns its world; the hosted AI (<c>pastry serve --role ai</c>) does, so <see cref="Objects"/> holds
    /// them when <see cref="IAiApplication.StartAsync"/> runs. Also used on a reconnect of this AI. Clients see
    /// nothing leave or come back, and need no action.
    /// </summary>
    /// <returns>The objects taken back (none when nothing was kept, for example after the grace ended or an OTP restart).</returns>
    /// <exception cref="AiTakeOverRefusedException">The application's objects belong to AIs with another <see cref="AiOptions.ApplicationKey"/>.</exception>
    public Task<IReadOnlyList<DistributedObject>> TakeBackAsync(CancellationToken cancellation = default) => ClaimAsync(takeOver: false, cancellation);

    /// <summary>
    /// A rolling upgrade: takes over every object of the running AI of this AI's application (a process of an older
    /// build), which stops its timers, finishes its queued work and database requests, and hands them over; they become
    /// this AI's with their fields, owners and locations, and stored ones are read back from the database. Clients see
    /// no object leave or enter. What clients send for those objects meanwhile is held by the State Server until this AI
    /// calls <see cref="ResumeRequests"/> (after the game subscribed its handlers; the hosted AI does both, with
    /// <c>Ai:TakeOver</c>). When the old AI is already gone, this takes back what it left, as <see cref="TakeBackAsync"/>.
    /// </summary>
    /// <returns>The objects taken over.</returns>
    /// <exception cref="AiTakeOverRefusedException">Nothing to take over (382), a hand-over already under way or several AIs running (383), or another application key (384).</exception>
    public Task<IReadOnlyList<DistributedObject>> TakeOverAsync(CancellationToken cancellation = default) => ClaimAsync(takeOver: true, cancellation);

    /// <summary>
    /// After <see cref="TakeOverAsync"/>, once the game has subscribed its handlers: the State Server delivers the client
    /// sets and calls it held during the hand-over, in order, and the sessions that closed meanwhile are raised on
    /// <see cref="SessionsClosed"/>. Harmless when nothing was taken over.
    /// </summary>
    public void ResumeRequests()
    {
        if (Interlocked.Exchange(ref tookOver, 0) == 1)
        {
            router.Publish(InternalMessages.AiNotice(InternalMessageType.TakenOverAiStarted, Channel), Channel.StateServer);
        }

        Post(() => holdingSessionEvents = false);
        RaiseSessionsClosedWhileAway();
    }

    private async Task<IReadOnlyList<DistributedObject>> ClaimAsync(bool takeOver, CancellationToken cancellation)
    {
        if (options.Application is not { Length: > 0 } application)
        {
            throw new InvalidOperationException("Set AiOptions.Application (the hosted AI sets it): objects are kept for, and taken over by, the next AI of an application.");
        }

        uint context = (uint)Interlocked.Increment(ref nextContext);
        var done = new TaskCompletionSource<List<DistributedObject>>(TaskCreationOptions.RunContinuationsAsynchronously);
        claims[context] = (new List<Envelope>(), done);
        List<DistributedObject> restored;
        try
        {
            if (takeOver)
            {
                holdingSessionEvents = true;
            }

            router.Publish(
                takeOver ? InternalMessages.TakeOverAi(context, application, options.ApplicationKey, Channel) : InternalMessages.ClaimAiObjects(context, application, Channel, options.ApplicationKey),
                Channel.StateServer);
            restored = await done.Task.WaitAsync(cancellation).ConfigureAwait(false);
            if (takeOver)
            {
                Volatile.Write(ref tookOver, 1);
            }
        }
        catch when (takeOver)
        {
            // Refused or given up: nothing was taken over, so closed sessions are the game's again.
            ResumeRequests();
            throw;
        }
        finally
        {
            claims.TryRemove(context, out _);
        }

        // Stored objects: the database holds the truth for their Db fields; differences go to the State Server and the viewers.
        await Task.WhenAll(restored.Where(o => storedObjects.ContainsKey(o.DoId)).Select(o => ReloadStoredAsync(o, cancellation))).ConfigureAwait(false);
        return restored;
    }

    /// <summary>
    /// Raises on <see cref="SessionsClosed"/> the accounts that logged out while no AI was there (told with the objects
    /// taken back), on the logic loop: after the game subscribed (the hosted AI calls it once the application started).
    /// </summary>
    internal void RaiseSessionsClosedWhileAway() => Post(() =>
    {
        var accounts = closedWhileAway.Distinct().ToArray();
        closedWhileAway.Clear();
        foreach (var account in accounts)
        {
            sessionsClosed.OnNext(account);
        }
    });

    /// <summary>
    /// An answer to a claim, on the link's thread in arrival order: entries are kept; the done restores them on the
    /// logic loop right away, so a client's set or call that the State Server sends after the done (the objects are
    /// this AI's from then on) finds its object; a refusal fails the claim.
    /// </summary>
    private void OnClaimAnswer(Envelope envelope)
    {
        uint context = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        if (!claims.TryGetValue(context, out var claim))
        {
            return;
        }

        lock (claim.Entries)
        {
            switch (envelope.Type)
            {
                case InternalMessageType.ClaimedAiObject or InternalMessageType.ClaimedSessionClosed:
                    claim.Entries.Add(envelope);
                    return;
                case InternalMessageType.AiClaimRefused:
                    {
                        var reader = new WireReader(envelope.Payload.Span);
                        reader.ReadUInt32();
                        var code = (EjectCode)reader.ReadUInt16();
                        claim.Done.TrySetException(new AiTakeOverRefusedException(code, reader.ReadString()));
                        return;
                    }
            }

            var entries = claim.Entries.ToList();
            bool queued = TryQueueLogic(() =>
            {
                var restored = new List<DistributedObject>(entries.Count);
                try
                {
                    foreach (var entry in entries)
                    {
                        if (entry.Type == InternalMessageType.ClaimedSessionClosed)
                        {
                            closedWhileAway.Add(entry.Subject);
                        }
                        else if (Restore(entry) is { } obj)
                        {
                            restored.Add(obj);
                        }
                    }

                    claim.Done.TrySetResult(restored);
                }
                catch (Exception ex)
                {
                    claim.Done.TrySetException(ex);
                }
            });
            if (!queued)
            {
                claim.Done.TrySetCanceled();
            }
        }
    }

    /// <summary>
    /// The State Server asks this AI to hand its objects over to a new AI of its application (<see cref="InternalMessageType.HandOverAi"/>):
    /// timers stop firing at once (one call each is held, in case the hand-over is called off), then the queued work
    /// and the database requests in flight finish, and the AI says it stopped.
    /// </summary>
    private void OnHandOverAsked(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var newAi = Channel.Read(ref reader);
        if (Interlocked.CompareExchange(ref handOverState, 1, 0) != 0)
        {
            logger.LogDebug("{Ai}: asked again to hand over to {New} (by another OTP node); it answers once, to every node", Name, newAi);
            return;
        }

        timersPaused = true;
        logger.LogWarning("{Ai}: AI {New} takes over this AI's objects; its timers stop, and it finishes its queued work and database requests", Name, newAi);
        _ = Task.Run(QuiesceAndHandOverAsync);
    }

    private async Task QuiesceAndHandOverAsync()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            // Each round drains the logic loop, then waits for the database answers in flight, whose handlers queue more work.
            for (int round = 0; round < 100; round++)
            {
                await InvokeAsync(() => { }).WaitAsync(deadline.Token).ConfigureAwait(false);
                var waiting = pendingRequests.Values.Select(p => (Task)p.Answer.Task).ToArray();
                if (waiting.Length == 0 && LogicQueueDepth == 0)
                {
                    break;
                }

                await Task.WhenAny(Task.WhenAll(waiting), Task.Delay(Timeout.Infinite, deadline.Token)).ConfigureAwait(false);
                deadline.Token.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            logger.LogWarning("{Ai}: its work did not finish within 10 s; it hands over anyway ({Pending} database request(s) unanswered)", Name, pendingRequests.Count);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            return; // stopping
        }

        router.Publish(InternalMessages.AiNotice(InternalMessageType.AiHandedOver, Channel), Channel.StateServer);
    }

    /// <summary>
    /// The State Server's last word on a hand-over of this AI: completed (its objects are the new AI's: timers end, the
    /// objects are disabled here, <see cref="TakenOver"/> completes) or called off (the new AI went away: carry on).
    /// </summary>
    private void OnHandOverFinished(Envelope envelope)
    {
        bool completed = envelope.Payload.Length > 0 && envelope.Payload.Span[0] == 1;
        if (completed ? Interlocked.Exchange(ref handOverState, 2) == 2 : Interlocked.CompareExchange(ref handOverState, 0, 1) != 1)
        {
            return; // another OTP node's word on the same hand-over
        }

        LogicTimer[] all;
        lock (timers)
        {
            all = timers.ToArray();
        }

        if (!completed)
        {
            timersPaused = false;
            foreach (var timer in all)
            {
                timer.Resume();
            }

            logger.LogWarning("{Ai}: the new AI went away before the hand-over; this AI carries on with its objects", Name);
            return;
        }

        foreach (var timer in all)
        {
            timer.Dispose();
        }

        Post(() =>
        {
            int count = table.Count;
            storedObjects.Clear();
            table.Close(ObjectState.Disabled);
            logger.LogWarning("{Ai}: handed {Count} object(s) over to the new AI; it serves nothing more and may stop", Name, count);
            takenOver.TrySetResult();
        });
    }

    /// <summary>
    /// A timer of <see cref="Schedule"/> or <see cref="Every"/>: it posts its action to the logic loop, or, while the AI
    /// hands over, holds one call until the hand-over is called off (and drops it when the hand-over completes).
    /// </summary>
    private sealed class LogicTimer : IDisposable
    {
        private readonly AiRepository ai;
        private readonly Action action;
        private readonly ITimer timer;
        private int held;

        public LogicTimer(AiRepository ai, Action action, TimeSpan due, TimeSpan period)
        {
            this.ai = ai;
            this.action = action;
            lock (ai.timers)
            {
                ai.timers.Add(this);
            }

            timer = ai.options.Time.CreateTimer(static state => ((LogicTimer)state!).Fire(), this, due, period);
        }

        private void Fire()
        {
            if (ai.timersPaused)
            {
                Volatile.Write(ref held, 1);
                return;
            }

            ai.Post(action);
        }

        public void Resume()
        {
            if (Interlocked.Exchange(ref held, 0) == 1)
            {
                ai.Post(action);
            }
        }

        public void Dispose()
        {
            timer.Dispose();
            lock (ai.timers)
            {
                ai.timers.Remove(this);
            }
        }
    }

    /// <summary>
    /// Makes a claimed entry (<c>context, databaseBacked, classId, parent, zone, owner, otherFrame, ownerFrame</c>) this
    /// AI's object, on the logic loop: a new instance, or this AI's own copy updated (after a reconnect of this AI).
    /// </summary>
    private DistributedObject? Restore(Envelope entry, bool announceCreated = true)
    {
        var reader = new WireReader(entry.Payload.Span);
        reader.ReadUInt32();
        bool databaseBacked = reader.ReadByte() == 1;
        uint classId = reader.ReadUInt32();
        var parent = reader.ReadDoId();
        uint zone = reader.ReadUInt32();
        var owner = reader.ReadDoId();
        reader.ReadRaw(reader.ReadCount(1));
        if (!registry.TryGetModel(classId, out var model))
        {
            logger.LogError("{Ai}: the State Server kept object {DoId} of class id {ClassId}, which this AI's models do not have; it is left alone", Name, entry.Subject, classId);
            return null;
        }

        // The owner frame: header, id, class, parent, zone, owner, then every value the State Server keeps.
        reader.ReadRaw(Frame.HeaderSize + DoId.Size + 4 + DoId.Size + 4 + DoId.Size);
        int count = reader.ReadUInt16();
        bool known = table.TryGet(entry.Subject, out var existing);
        var obj = existing ?? model.CreateInstance();
        if (!known)
        {
            obj.DoId = entry.Subject;
        }

        obj.Owner = owner;
        obj.Parent = parent;
        obj.Zone = zone;
        for (int i = 0; i < count; i++)
        {
            var field = model.Fields[reader.ReadUInt16()];
            field.DecodeAndApply(obj, ref reader, ChangeOrigin.Remote, validate: false);
        }

        if (databaseBacked)
        {
            storedObjects[obj.DoId] = 0;
        }

        if (!known)
        {
            var streams = table.Track(obj, this);
            if (announceCreated)
            {
                streams.Created.OnNext(obj);
            }
        }

        return obj;
    }

    /// <summary>Reads a stored object's Db fields back from the database and applies the ones that differ (sent on as stored values).</summary>
    private async Task ReloadStoredAsync(DistributedObject obj, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var reply = DatabaseMessages.ReadReply(await SendDatabaseRequestAsync(context => DatabaseMessages.GetAll(context, obj.Model, obj.DoId, Channel), timeout.Token).ConfigureAwait(false), obj.Model);
            if (reply.Status != DatabaseStatus.Ok)
            {
                logger.LogWarning("{Ai}: {Model} {DoId} was taken back, but its stored row could not be read ({Status}: {Reason}); it keeps the State Server's values", Name, obj.Model.Name, obj.DoId, reply.Status, reply.Reason);
                return;
            }

            await InvokeAsync(() =>
            {
                foreach (var (name, value) in reply.Values)
                {
                    if (obj.Model.TryGetField(name, out var field) && field.IsDb)
                    {
                        ApplyStored(obj, field, value, ChangeOrigin.Remote, alwaysSend: false);
                    }
                }
            }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            logger.LogWarning("{Ai}: {Model} {DoId} was taken back, but the database did not answer in time; it keeps the State Server's values", Name, obj.Model.Name, obj.DoId);
        }
    }

    private async Task RunLogicAsync()
    {
        var reader = logic.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var action))
            {
                Interlocked.Decrement(ref logicQueued);
                var previous = SynchronizationContext.Current;
                SynchronizationContext.SetSynchronizationContext(logicContext);
                try
                {
                    action();
                }
                catch (Exception ex)
                {
                    // Game code that throws must not stop the AI: log it with context and go on.
                    logger.LogError(ex, "{Ai}: game logic threw", Name);
                }
                finally
                {
                    SynchronizationContext.SetSynchronizationContext(previous);
                }
            }
        }
    }

    /// <summary>
    /// What the server does with this AI's objects when the link drops (or the backplane declares this process dead):
    /// park them for the next AI of the application (<see cref="AiOptions.Application"/>), or delete them.
    /// </summary>
    private void RegisterCleanup(IPostRemoveRouter link) =>
        link.AddPostRemove(options.Application is { Length: > 0 } application ? InternalMessages.ParkAiObjects(Channel, application) : InternalMessages.DeleteAiObjects(Channel), Channel.StateServer);

    /// <summary>
    /// The backplane ran this AI's post-removes while it lived on (it was silent too long, or its connection dropped):
    /// the server parked or deleted its objects, so take them back or create them again, as after a reconnect of the
    /// MD link.
    /// </summary>
    private void OnPostRemovesRan(object? sender, EventArgs args)
    {
        if (Volatile.Read(ref disposed) == 0)
        {
            _ = RestoreAfterPostRemovesAsync();
        }
    }

    private async Task RestoreAfterPostRemovesAsync()
    {
        try
        {
            var (created, kept) = await RestoreObjectsAsync(router).ConfigureAwait(false);
            logger.LogWarning("{Ai}: the backplane ran this AI's post-removes, or the OTP that held its objects is gone; {Count} object(s) created again, {Kept} taken back", Name, created, kept);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// Puts this AI's live objects back on the server after it parked or deleted them: takes back what it kept (an
    /// application's AI: parked for the grace), then creates the other live ones again. Stored (activated) ones say
    /// so, or the State Server would keep them as RAM objects and their Db fields would not be written any more.
    /// </summary>
    /// <returns>How many objects were created again, and how many were taken back.</returns>
    private async Task<(int Created, int Kept)> RestoreObjectsAsync(IMessageRouter target)
    {
        var kept = new HashSet<DoId>();

        // The post-remove that parked or deleted this AI's objects also forgot its districts.
        if (districts.Count > 0)
        {
            target.Publish(ServeDistrictsMessage(districts), Channel.StateServer);
        }

        if (options.Application is { Length: > 0 })
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                foreach (var obj in await TakeBackAsync(timeout.Token).ConfigureAwait(false))
                {
                    kept.Add(obj.DoId);
                }

                RaiseSessionsClosedWhileAway();
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                logger.LogWarning("{Ai}: the State Server did not answer the claim of its objects; creating them again", Name);
            }
        }

        int created = 0;
        foreach (var obj in Objects)
        {
            if (!kept.Contains(obj.DoId))
            {
                target.Publish(InternalMessages.CreateObject(obj, obj.Parent, obj.Zone, obj.Owner, Channel, databaseBacked: storedObjects.ContainsKey(obj.DoId)), Channel.StateServer);
                created++;
            }
        }

        return (created, kept.Count);
    }

    private async Task KeepConnectedAsync(RemoteMessageRouter link)
    {
        while (!stop.IsCancellationRequested)
        {
            await link.Closed.ConfigureAwait(false);
            if (stop.IsCancellationRequested)
            {
                return;
            }

            logger.LogWarning("{Ai}: the link to the Message Director dropped{Why}; reconnecting", Name, link.Refusal is { } why ? $" ({(int)why.Code} {why.Code}: {why.Reason})" : string.Empty);
            var delay = TimeSpan.FromMilliseconds(100);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    link = await RemoteMessageRouter.ConnectAsync(remote!.Value.Host, remote.Value.Port, options.Credentials, options.MaxFrameBytes, stop.Token).ConfigureAwait(false);
                    break;
                }
                catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
                {
                    if (ex is MessageDirectorRefusedException refused)
                    {
                        logger.LogError("{Ai}: {Message}", Name, refused.Message);
                    }

                    try
                    {
                        await Task.Delay(delay, stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxReconnectDelay.Ticks));
                }
            }

            if (stop.IsCancellationRequested)
            {
                await link.DisposeAsync().ConfigureAwait(false);
                return;
            }

            router = link;
            AiMetrics.Reconnected(this);
            link.Subscribe(this, Channel);
            link.Subscribe(this, Channel.SessionEvents);
            RegisterCleanup(link);

            // The server kept this AI's objects when the link dropped (an application's AI: parked for the grace) or
            // deleted them (or the OTP restarted).
            var (created, kept) = await RestoreObjectsAsync(link).ConfigureAwait(false);
            logger.LogInformation("{Ai}: reconnected; {Count} object(s) created again, {Kept} taken back", Name, created, kept);
        }
    }
}

/// <summary>A database request waiting for its reply, and what to apply, in reply order, when it comes.</summary>
internal sealed record PendingRequest(TaskCompletionSource<Envelope> Answer, Action<Envelope>? OnReply);

/// <summary>Lets <c>await</c> in game code resume on the AI's logic loop, so that async handlers keep the one-at-a-time rule.</summary>
internal sealed class LogicContext(AiRepository ai) : SynchronizationContext
{
    public override void Post(SendOrPostCallback d, object? state) => ai.Post(() => d(state));

    public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("The AI logic loop does not run work synchronously for other threads; use Post.");

    public override SynchronizationContext CreateCopy() => this;
}

/// <summary>
/// The State Server refused an AI's claim or take-over of its application's objects (<see cref="AiRepository.TakeOverAsync"/>,
/// <see cref="AiRepository.TakeBackAsync"/>); nothing was taken.
/// </summary>
public sealed class AiTakeOverRefusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AiTakeOverRefusedException(EjectCode code, string reason)
        : base($"The State Server refused ({(int)code} {code}): {reason}")
    {
        Code = code;
        Reason = reason;
    }

    /// <summary>Why: <see cref="EjectCode.NothingToTakeOver"/>, <see cref="EjectCode.HandOverUnderWay"/>, <see cref="EjectCode.ApplicationKeyMismatch"/> or <see cref="EjectCode.ApplicationKeyRequired"/>.</summary>
    public EjectCode Code { get; }

    /// <summary>The State Server's reason, naming the fix.</summary>
    public string Reason { get; }
}

/// <summary>A database request of an AI was refused or failed.</summary>
public class DatabaseRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DatabaseRequestException(DatabaseStatus status, string reason)
        : base($"The database answered {status}: {reason}")
    {
        Status = status;
        Reason = reason;
    }

    /// <summary>The database's status.</summary>
    public DatabaseStatus Status { get; }

    /// <summary>The database's reason.</summary>
    public string Reason { get; }

    /// <summary>The exception for a refusal: the typed one where there is one (unique violation, overload), else this type.</summary>
    internal static DatabaseRequestException From(DatabaseReply reply, ModelInfo model) => reply.Status switch
    {
        DatabaseStatus.UniqueViolation => new UniqueViolationException(model.Name, reply.UniqueFields ?? Array.Empty<string>(), reply.Reason),
        DatabaseStatus.Overloaded => new DatabaseOverloadedException(reply.Reason),
        _ => new DatabaseRequestException(reply.Status, reply.Reason),
    };
}

/// <summary>
/// The Database role refused a request because its queue was full (<c>Database:MaxPendingQueries</c> for queries, which
/// are refused at once; <c>Database:MailboxCapacity</c> for writes, refused after a bounded wait). Nothing was done; the
/// request may be tried again later.
/// </summary>
public sealed class DatabaseOverloadedException : DatabaseRequestException
{
    /// <summary>Creates the exception.</summary>
    public DatabaseOverloadedException(string reason)
        : base(DatabaseStatus.Overloaded, reason)
    {
    }
}

/// <summary>
/// A create or write was refused because another stored object already holds the value of a <c>[Unique]</c> field (or
/// the combination of a <c>[UniqueTogether]</c>); nothing was written. Of two AIs racing for one value, exactly one
/// gets this.
/// </summary>
public sealed class UniqueViolationException : DatabaseRequestException
{
    /// <summary>Creates the exception.</summary>
    public UniqueViolationException(string model, IReadOnlyList<string> fields, string reason)
        : base(DatabaseStatus.UniqueViolation, reason)
    {
        Model = model;
        Fields = fields;
    }

    /// <summary>The model.</summary>
    public string Model { get; }

    /// <summary>The fields of the constraint (one for <c>[Unique]</c>), for example <c>Name</c>.</summary>
    public IReadOnlyList<string> Fields { get; }
}

/// <summary>The streams of one model class on an AI.</summary>
/// <typeparam name="T">The model.</typeparam>
public sealed class AiClassEvents<T>
    where T : DistributedObject<T>
{
    internal AiClassEvents(ClassStreams streams)
    {
        Created = System.Reactive.Linq.Observable.OfType<T>(streams.Created);
        Updated = streams.Updated;
        Deleted = System.Reactive.Linq.Observable.OfType<T>(streams.Deleted);
        Calls = streams.Calls;
    }

    /// <summary>This AI created an object of this class.</summary>
    public IObservable<T> Created { get; }

    /// <summary>A field changed: set by this AI (origin local) or sent by a client (origin remote; see <see cref="AiRepository.CurrentSender"/>).</summary>
    public IObservable<FieldChange> Updated { get; }

    /// <summary>An object of this class was deleted (by this AI, or with its parent).</summary>
    public IObservable<T> Deleted { get; }

    /// <summary>RPCs that clients called on objects of this class; their bodies have already run on the logic loop.</summary>
    public IObservable<RpcCall> Calls { get; }
}

/// <summary>
/// A game's AI entry point: <c>pastry serve --role ai|all --app Game.dll</c> finds the class that implements it
/// (it needs a public parameterless constructor) and starts it with a connected <see cref="AiRepository"/>.
/// </summary>
public interface IAiApplication
{
    /// <summary>Spawns the world and wires the game logic. Called once, after the AI is connected.</summary>
    Task StartAsync(AiRepository ai, CancellationToken cancellation);
}
