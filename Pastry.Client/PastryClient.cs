using System.Buffers;
using System.Buffers.Binary;
using System.Linq.Expressions;
using System.Net.Sockets;
using Pastry.Client.Transports;
using System.Reactive.Subjects;
using Pastry.Objects;
using Pastry.Wire;

namespace Pastry.Client;

/// <summary>
/// The player side of Pastry: connects with Hello, logs in through the login UberDOG, keeps a synchronised clock,
/// opens interests, and keeps a local table of the objects in view with Rx streams per class (ARCHITECTURE 5).
/// Setting a <c>[ClSend]</c> or <c>[OwnSend]</c> field of an object in view validates it locally, applies it at once
/// and sends it; the server never echoes it back. Events run on the socket thread unless the game picks its own
/// thread with <see cref="ClientOptions.SynchronizationContext"/> or <see cref="ClientOptions.ManualDispatch"/>.
/// </summary>
public sealed partial class PastryClient : IAsyncDisposable, IObjectBinding
{
    private readonly object gate = new();
    private readonly ServerAddress address;
    private readonly ModelRegistry registry;
    private readonly ClientOptions options;
    private readonly CancellationTokenSource stop = new();

    // The connection: replaced when the client resumes its session on a new one (see PastryClient.Resume.cs).
    private ClientConnection connection;
    private Stream stream;
    private FrameOutbox sender;
    private readonly ObjectTable table = new();
    private readonly Dictionary<uint, (Interest Interest, TaskCompletionSource<Interest> Done)> pendingInterests = new();
    private readonly Dictionary<uint, Interest> interests = new();
    private readonly Queue<TaskCompletionSource<object?[]>> pendingLogins = new();
    private TaskCompletionSource<DoId> helloDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<DisconnectReason> closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Subject<DisconnectReason> ejected = new();
    private readonly Subject<RequestRefused> requestsRefused = new();
    private readonly ModelInfo loginModel;
    private readonly EventDispatcher events;
    private Task readLoop = Task.CompletedTask;
    private Task sendLoop = Task.CompletedTask;
    private Task timerLoop = Task.CompletedTask;
    private PeriodicTimer? timer;
    private uint nextContext;
    private int disposed;
    private int closing;

    private PastryClient(ClientConnection connection, ServerAddress address, ModelRegistry registry, ClientOptions options)
    {
        this.connection = connection;
        this.address = address;
        stream = connection.Stream;
        this.registry = registry;
        this.options = options;
        sender = new FrameOutbox(options.MaxOutgoingBytes);
        Clock = new ClientClock(options.Time, options.ClockSamples);
        loginModel = registry.GetModel<LoginManager>();
        events = new EventDispatcher(options);
    }

    /// <summary>The session id the server gave this connection.</summary>
    public DoId SessionId { get; private set; }

    /// <summary>The logged-in account, or <see cref="DoId.Empty"/> before login.</summary>
    public DoId AccountId { get; private set; }

    /// <summary>The synchronised clock.</summary>
    public ClientClock Clock { get; }

    /// <summary>The estimated server time (UTC); it never goes backwards.</summary>
    public DateTime ServerTime => Clock.ServerTime;

    /// <summary>The models this client knows.</summary>
    public ModelRegistry Registry => registry;

    /// <summary>
    /// Completes when the connection ends, with the reason (eject code and text, or the socket error), after every
    /// event that arrived before; with <see cref="ClientOptions.ManualDispatch"/> that is in a <see cref="DispatchPending"/> call.
    /// </summary>
    public Task<DisconnectReason> Closed => closed.Task;

    /// <summary>Fires once if the server ejects this client (code and reason), before <see cref="Closed"/> completes.</summary>
    public IObservable<DisconnectReason> Ejected => ejected;

    /// <summary>
    /// Sets and calls of this client that the server refused because no AI will handle them (a rolling AI upgrade or an
    /// AI restart under way), on the game's thread like every event; send them again if they matter.
    /// </summary>
    public IObservable<RequestRefused> RequestsRefused => requestsRefused;

    /// <summary>The objects in view now.</summary>
    public IReadOnlyCollection<DistributedObject> Objects => table.Snapshot();

    /// <summary>Connects over TCP (TLS with <see cref="ClientOptions.UseTls"/>), says Hello (schema hash and app version) and starts heartbeats and clock sync.</summary>
    /// <exception cref="ClientEjectedException">The server refused the hello (124 bad version, 125 bad schema hash).</exception>
    /// <exception cref="ArgumentException">Both <see cref="ClientOptions.SynchronizationContext"/> and <see cref="ClientOptions.ManualDispatch"/> are set.</exception>
    public static Task<PastryClient> ConnectAsync(string host, int port, ModelRegistry registry, ClientOptions? options = null, CancellationToken cancellation = default) =>
        ConnectAsync(ServerAddress.Tcp(host, port), registry, options, cancellation);

    /// <summary>
    /// Connects to a server URL: <c>ws://host:port/path</c> or <c>wss://host:port/path</c> for the Client Agent's
    /// WebSocket transport (<c>ClientAgent:WebSocket</c>; the only one a browser build can use), or <c>tcp://host:port</c>.
    /// Then it says Hello and starts heartbeats and clock sync, as over TCP; a session behaves the same on either transport.
    /// </summary>
    /// <exception cref="ArgumentException">The URL's scheme is not ws, wss or tcp.</exception>
    /// <exception cref="ClientEjectedException">The server refused the hello (124 bad version, 125 bad schema hash).</exception>
    public static Task<PastryClient> ConnectAsync(Uri url, ModelRegistry registry, ClientOptions? options = null, CancellationToken cancellation = default) =>
        ConnectAsync(ServerAddress.FromUrl(url), registry, options, cancellation);

    private static async Task<PastryClient> ConnectAsync(ServerAddress address, ModelRegistry registry, ClientOptions? options, CancellationToken cancellation)
    {
        options ??= new ClientOptions();
        _ = new EventDispatcher(options); // checks the options before a socket exists
        var opened = await ClientConnection.OpenAsync(address, options, cancellation).ConfigureAwait(false);
        var client = new PastryClient(opened, address, registry, options);
        client.Start();
        client.Send((registry.SchemaHash, options.AppVersion), static (w, s) => ClientFrames.WriteHello(w, s.SchemaHash, s.AppVersion));
        try
        {
            client.SessionId = await WithTimeout(client.helloDone.Task, options.RequestTimeout, "the server did not answer Hello", cancellation).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        client.SyncClock();
        return client;
    }

    /// <summary>Creates an account through the login UberDOG and returns its id.</summary>
    /// <exception cref="LoginFailedException">The name is taken or the password does not meet the rules.</exception>
    public Task<DoId> CreateAccountAsync(string username, string password, CancellationToken cancellation = default) =>
        LoginCallAsync(nameof(LoginManager.CreateAccount), username, password, cancellation);

    /// <summary>Logs in through the login UberDOG; the session becomes established and may open interests.</summary>
    /// <exception cref="LoginFailedException">Wrong name or password.</exception>
    public async Task<DoId> LoginAsync(string username, string password, CancellationToken cancellation = default)
    {
        var account = await LoginCallAsync(nameof(LoginManager.Login), username, password, cancellation).ConfigureAwait(false);
        AccountId = account;
        return account;
    }

    /// <summary>
    /// Opens interest in <paramref name="zones"/> of <paramref name="parent"/>. It completes when the server sends
    /// InterestDone, by which time every object in those zones is in <see cref="Objects"/>.
    /// </summary>
    /// <exception cref="TimeoutException">InterestDone did not arrive within <see cref="ClientOptions.RequestTimeout"/>.</exception>
    public Task<Interest> AddInterestAsync(DoId parent, params uint[] zones) => AddInterestAsync(parent, zones, CancellationToken.None);

    /// <summary>Opens interest in <paramref name="zones"/> of <paramref name="parent"/>; see <see cref="AddInterestAsync(DoId, uint[])"/>.</summary>
    public async Task<Interest> AddInterestAsync(DoId parent, IReadOnlyList<uint> zones, CancellationToken cancellation)
    {
        var done = new TaskCompletionSource<Interest>(TaskCreationOptions.RunContinuationsAsynchronously);
        Interest interest;
        lock (gate)
        {
            interest = new Interest(++nextContext, parent, zones.ToArray());
            pendingInterests[interest.Context] = (interest, done);
        }

        Send(interest, static (w, i) => ClientFrames.WriteAddInterest(w, i.Context, i.Parent, i.Zones.ToArray()));
        return await WithTimeout(done.Task, options.RequestTimeout, $"InterestDone for interest {interest.Context} (parent {parent}) did not arrive", cancellation).ConfigureAwait(false);
    }

    /// <summary>Changes an open interest to other zones (for example the 3x3 cells around a walking avatar).</summary>
    public async Task<Interest> AlterInterestAsync(Interest interest, IReadOnlyList<uint> zones, CancellationToken cancellation = default)
    {
        var changed = interest with { Zones = zones.ToArray() };
        var done = new TaskCompletionSource<Interest>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            pendingInterests[changed.Context] = (changed, done);
        }

        Send(changed, static (w, i) => ClientFrames.WriteAddInterest(w, i.Context, i.Parent, i.Zones.ToArray()));
        return await WithTimeout(done.Task, options.RequestTimeout, $"InterestDone for interest {interest.Context} did not arrive", cancellation).ConfigureAwait(false);
    }

    /// <summary>Closes an interest; objects no longer in any interest are disabled.</summary>
    public Task RemoveInterestAsync(Interest interest)
    {
        lock (gate)
        {
            interests.Remove(interest.Context);
        }

        Send(interest.Context, static (w, c) => ClientFrames.WriteContext(w, MessageType.RemoveInterest, c));
        return Task.CompletedTask;
    }

    /// <summary>The object <paramref name="id"/> if it is in view.</summary>
    public bool TryGet<T>(DoId id, out T obj)
        where T : DistributedObject<T>
    {
        lock (gate)
        {
            if (table.TryGet(id, out var found) && found is T typed)
            {
                obj = typed;
                return true;
            }
        }

        obj = null!;
        return false;
    }

    /// <summary>The streams of model <typeparamref name="T"/>.</summary>
    public ClassEvents<T> Of<T>()
        where T : DistributedObject<T> => new(table.StreamsOf(registry.GetModel<T>()));

    /// <summary>Calls a <c>[Distributed]</c> method on an object in view, for example <c>client.Call(knight, k =&gt; k.Wave("hi"))</c>; it runs on the AI.</summary>
    /// <exception cref="InvalidOperationException">The method is not <c>[ClSend]</c> (or <c>[OwnSend]</c> on an object this client owns).</exception>
    public void Call<T>(T target, Expression<Action<T>> call)
        where T : DistributedObject<T>
    {
        var (method, arguments) = RpcCall.Parse(call);
        Call(target, method, arguments);
    }

    /// <summary>Calls a <c>[Distributed]</c> method by descriptor, after checking its keywords and argument validators locally.</summary>
    public void Call(DistributedObject target, MethodDescriptor method, params object?[] arguments)
    {
        target.EnsureUsable();
        if (!method.IsClSend && !(method.IsOwnSend && target.Owner == AccountId))
        {
            throw new InvalidOperationException($"{method} cannot be called by this client: {Refusal(method.Keywords, target)}.");
        }

        var problems = method.ValidateArguments(target, arguments);
        if (problems is not null)
        {
            throw new ModelValidationException(target.Model.Name, problems);
        }

        Send((target.DoId, method, arguments), static (w, s) => ClientFrames.WriteCallMethod(w, s.DoId, s.method, s.arguments));
    }

    /// <summary>
    /// Runs the events that arrived since the last call, on the calling thread, when the client was connected with
    /// <see cref="ClientOptions.ManualDispatch"/>: call it once a frame from the game's main loop. Events that arrive
    /// while it runs wait for the next call. An exception from the game's own handler leaves this call; the events
    /// after it run in the next one.
    /// </summary>
    /// <returns>How many received messages ran.</returns>
    /// <exception cref="InvalidOperationException">The client was not connected with <see cref="ClientOptions.ManualDispatch"/>.</exception>
    public int DispatchPending() => events.DispatchPending();

    /// <summary>Sends Disconnect and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        try
        {
            Send(0, static (w, _) => ClientFrames.WriteEmpty(w, MessageType.Disconnect));
            sender.Complete();
        }
        catch (ObjectDisposedException)
        {
        }

        // The send loop ends once Disconnect is written, and the server then closes the connection, which ends the
        // read loop: the usual way out throws no exception (a process that opens many clients pays for every one).
        // The timer below is the fallback for a server that does not answer.
        stop.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await sendLoop.ConfigureAwait(false);
            await readLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }

        Close(new DisconnectReason(null, "the client closed the connection"));
        try
        {
            await Task.WhenAll(readLoop, timerLoop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        sender.Dispose();
        stream.Dispose(); // after both loops: TLS keeps native state, a plain stream only the closed socket
        stop.Dispose();
    }

    /// <inheritdoc />
    void IObjectBinding.CheckLocalSet(DistributedObject target, FieldDescriptor field)
    {
        if (!field.IsClSend && !(field.IsOwnSend && target.Owner == AccountId && !AccountId.IsEmpty))
        {
            throw new InvalidOperationException($"{field} cannot be set by this client: {Refusal(field.Keywords, target)}.");
        }
    }

    /// <inheritdoc />
    void IObjectBinding.OnLocalSet(DistributedObject target, FieldDescriptor field) =>
        Send((target, field), static (w, s) =>
        {
            int start = w.BeginFrame(MessageType.SetField);
            w.WriteDoId(s.target.DoId);
            w.WriteUInt16(s.field.WireId);
            s.field.Encode(s.target, w);
            w.EndFrame(start);
        });

    private static string Refusal(FieldKeywords keywords, DistributedObject target)
    {
        if ((keywords & FieldKeywords.Ai) != 0)
        {
            return "it is [Ai], so only the AI may send it";
        }

        if ((keywords & FieldKeywords.OwnSend) != 0)
        {
            return $"it is [OwnSend] and this client does not own {target.Model.Name} {target.DoId}";
        }

        return "it has neither [ClSend] nor [OwnSend]";
    }

    private static async Task<T> WithTimeout<T>(Task<T> task, TimeSpan timeout, string what, CancellationToken cancellation)
    {
        // WaitAsync holds one timer; a linked token source, Task.Delay and WhenAny per request cost several times more.
        try
        {
            return await task.WaitAsync(timeout, cancellation).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            throw new TimeoutException($"{what} within {timeout.TotalSeconds:0.#} s.");
        }
    }

    private async Task<DoId> LoginCallAsync(string methodName, string username, string password, CancellationToken cancellation)
    {
        var answer = new TaskCompletionSource<object?[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var method = loginModel.GetMethod(methodName);
        lock (gate)
        {
            pendingLogins.Enqueue(answer);
        }

        Send((method, username, password), static (w, s) => ClientFrames.WriteCallMethod(w, LoginManager.WellKnownId, s.method, new object?[] { s.username, s.password }));
        var result = await WithTimeout(answer.Task, options.RequestTimeout, $"the login UberDOG did not answer {methodName}", cancellation).ConfigureAwait(false);
        int status = (int)result[0]!;
        if (status != 0)
        {
            throw new LoginFailedException(status, (string)result[2]!);
        }

        return (DoId)result[1]!;
    }

    private void Start()
    {
        // The timer exists before the read loop, so that a Close from a failing first read always finds it.
        // On options.Time's timers, not a thread of its own: browser WebAssembly has one thread and no blocking waits.
        timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Min(250, options.HeartbeatInterval.TotalMilliseconds)), options.Time);
        var first = stream;
        readLoop = Task.Run(() => ReadAsync(first));
        sendLoop = sender.RunAsync(stream, stop.Token);
        timerLoop = TimersAsync(timer);
    }

    /// <summary>Queues frames written by <paramref name="write"/>; throws when the connection is closed or too far behind.</summary>
    private void Send<TState>(TState state, Action<PooledBufferWriter, TState> write)
    {
        var outbox = Volatile.Read(ref sender);
        if (!outbox.TryAppend(state, write))
        {
            throw outbox.IsClosed
                ? new ObjectDisposedException(nameof(PastryClient), "The connection is closed.")
                : new InvalidOperationException($"More than {options.MaxOutgoingBytes} bytes are waiting to be sent (ClientOptions.MaxOutgoingBytes): the connection is too slow for what the game sends.");
        }
    }

    private void SyncClock() =>
        Send(Clock.LocalTicks, static (w, t) => ClientFrames.WriteClockSync(w, t));

    private async Task TimersAsync(PeriodicTimer ticks)
    {
        // A few quick clock samples first, then a steady rhythm of heartbeats and re-syncs. Close disposes the
        // timer, which ends the loop without an exception.
        var nextHeartbeat = options.HeartbeatInterval;
        var sinceSync = TimeSpan.Zero;
        int quickSamples = 3;
        var tick = ticks.Period;
        while (await ticks.WaitForNextTickAsync().ConfigureAwait(false))
        {
            // Nothing may precede Hello on the wire (the server ejects 107): the timer starts before Hello is sent,
            // so a tick that comes first (a loaded machine can delay the Hello past a tick) waits for its answer.
            if (helloDone.Task.Status != TaskStatus.RanToCompletion || IsReconnecting)
            {
                continue;
            }

            nextHeartbeat -= tick;
            sinceSync += tick;
            try
            {
                if (nextHeartbeat <= TimeSpan.Zero)
                {
                    nextHeartbeat = options.HeartbeatInterval;
                    Send(0, static (w, _) => ClientFrames.WriteEmpty(w, MessageType.Heartbeat));
                }

                if (quickSamples > 0 || sinceSync >= options.ClockSyncInterval)
                {
                    quickSamples = Math.Max(0, quickSamples - 1);
                    sinceSync = TimeSpan.Zero;
                    SyncClock();
                }
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    private async Task ReadAsync(Stream stream)
    {
        var inbound = new Inbound(this);
        var reader = FrameReader.Open(stream);
        string reason = "the server closed the connection";
        try
        {
            var outcome = await FrameReader.ReadAsync(reader, options.MaxFrameBytes, inbound, stop.Token).ConfigureAwait(false);
            if (outcome.End is FrameReadEnd.Oversized or FrameReadEnd.Malformed)
            {
                reason = $"connection lost: The server sent a frame of {outcome.DeclaredLength} bytes.";
            }
            else if (Volatile.Read(ref disposed) == 1)
            {
                // The server's answer to our Disconnect.
                reason = "the client closed the connection";
            }
        }
        catch (OperationCanceledException)
        {
            reason = "the client closed the connection";
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidDataException or WireFormatException)
        {
            reason = $"connection lost: {ex.Message}";
        }
        finally
        {
            try
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }
            finally
            {
                ConnectionLost(stream, inbound.EjectCode, reason);
            }
        }
    }

    /// <summary>The connection's frames as the frame reader's handler, counted as the server counts them.</summary>
    private sealed class Inbound(PastryClient client) : IFrameHandler
    {
        /// <summary>The code of an eject the server sent before closing, if any.</summary>
        public int? EjectCode { get; private set; }

        public bool OnFrame(ushort type, ReadOnlySpan<byte> payload)
        {
            // Counted as the server counts what it sent the session (an eject is the connection's, not the
            // session's): a resume replays exactly what was missed only when the two agree.
            if ((MessageType)type != MessageType.Eject)
            {
                client.receivedBytes += Frame.HeaderSize + payload.Length;
            }
            else
            {
                EjectCode = PeekEjectCode(payload);
            }

            client.Receive((MessageType)type, payload);
            return true;
        }

        // The game thread's queue is full: stop reading until it has room (TCP then slows the server down).
        public ValueTask OnReadAsync(long bytes, int frames, CancellationToken cancellation) =>
            new(client.events.WaitForRoomAsync(cancellation));
    }

    private void Receive(MessageType type, ReadOnlySpan<byte> payload)
    {
        // The connection's own messages are handled on the socket thread in every mode: ConnectAsync must not wait
        // for a game loop, a clock sample is only good when taken on arrival, and an eject must win over the socket
        // closing behind it. Everything that touches objects or raises events goes through the dispatcher.
        var reader = new WireReader(payload);
        switch (type)
        {
            case MessageType.HelloResp:
                reader.ReadInt64();
                helloDone.TrySetResult(reader.ReadDoId());
                return;
            case MessageType.Eject:
                {
                    int code = reader.ReadUInt16();
                    string reason = reader.ReadString();
                    if (!IsResumable(code))
                    {
                        Close(new DisconnectReason(code, reason));
                    }

                    return;
                }

            case MessageType.ResumeToken:
                OnResumeToken(ref reader);
                return;
            case MessageType.ResumeResp:
                OnResumeResp(ref reader);
                return;

            case MessageType.ClockSync:
                {
                    long sent = reader.ReadInt64();
                    long server = reader.ReadInt64();
                    Clock.AddSample(sent, server, Clock.LocalTicks);
                    return;
                }
        }

        if (events.IsInline)
        {
            Apply(type, payload);
            return;
        }

        // The read buffer is reused at once, so the message waits for the game's thread in a pooled copy.
        byte[] copy = ArrayPool<byte>.Shared.Rent(payload.Length);
        payload.CopyTo(copy);
        events.Run(static state => ((ReceivedMessage)state!).Apply(), new ReceivedMessage(this, type, copy, payload.Length), payload.Length);
    }

    private void Apply(MessageType type, ReadOnlySpan<byte> payload)
    {
        var reader = new WireReader(payload);
        switch (type)
        {

            case MessageType.InterestDone:
                {
                    uint context = reader.ReadUInt32();
                    (Interest Interest, TaskCompletionSource<Interest> Done) pending;
                    lock (gate)
                    {
                        if (!pendingInterests.TryGetValue(context, out pending))
                        {
                            break;
                        }

                        pendingInterests.Remove(context);
                        interests[context] = pending.Interest;
                    }

                    pending.Done.TrySetResult(pending.Interest);
                    break;
                }

            case MessageType.EnterObject:
            case MessageType.EnterOwnedObject:
                OnEnter(ref reader);
                break;
            case MessageType.SetField:
            case MessageType.SetFields:
                OnSetFields(ref reader, type == MessageType.SetFields);
                break;
            case MessageType.LeaveObject:
                {
                    var id = reader.ReadDoId();
                    var leave = (LeaveReason)reader.ReadByte();
                    OnLeave(id, leave == LeaveReason.Deleted ? ObjectState.Deleted : ObjectState.Disabled);
                    break;
                }

            case MessageType.Location:
                {
                    var id = reader.ReadDoId();
                    var parent = reader.ReadDoId();
                    uint zone = reader.ReadUInt32();
                    if (table.TryGet(id, out var moved))
                    {
                        moved.Parent = parent;
                        moved.Zone = zone;
                        table.StreamsOf(moved.Model).Moved.OnNext(moved);
                    }

                    break;
                }

            case MessageType.CallMethod:
                OnCall(ref reader);
                break;
            case MessageType.ResumeSnapshotDone:
                FinishResync();
                break;
            case MessageType.RequestRefused:
                {
                    var id = reader.ReadDoId();
                    int code = reader.ReadUInt16();
                    requestsRefused.OnNext(new RequestRefused(id, code, reader.ReadString()));
                    break;
                }
        }
    }

    private void OnEnter(ref WireReader reader)
    {
        var id = reader.ReadDoId();
        uint classId = reader.ReadUInt32();
        var parent = reader.ReadDoId();
        uint zone = reader.ReadUInt32();
        var owner = reader.ReadDoId();
        if (!registry.TryGetModel(classId, out var model))
        {
            throw new WireFormatException(WireError.UnknownMember, $"unknown class id {classId}");
        }

        bool isNew = !table.TryGet(id, out var obj);
        if (obj is null)
        {
            obj = model.CreateInstance();
            obj.DoId = id;
        }

        obj.Owner = owner;
        obj.Parent = parent;
        obj.Zone = zone;
        int count = reader.ReadUInt16();
        for (int i = 0; i < count; i++)
        {
            int index = reader.ReadUInt16();
            var field = model.FindFieldByWireId(index) ?? throw new WireFormatException(WireError.UnknownMember, $"{model.Name} has no field {index}");
            field.DecodeAndApply(obj, ref reader, ChangeOrigin.Remote, validate: false);
        }

        if (isNew)
        {
            table.Track(obj, this).Created.OnNext(obj);
        }

        resyncSeen?.Add(id);
    }

    private void OnSetFields(ref WireReader reader, bool many)
    {
        var id = reader.ReadDoId();
        if (!table.TryGet(id, out var obj))
        {
            return;
        }

        int count = many ? reader.ReadUInt16() : 1;
        for (int i = 0; i < count; i++)
        {
            int index = reader.ReadUInt16();
            var field = obj.Model.FindFieldByWireId(index) ?? throw new WireFormatException(WireError.UnknownMember, $"{obj.Model.Name} has no field {index}");
            field.DecodeAndApply(obj, ref reader, ChangeOrigin.Remote, validate: false);
        }
    }

    private void OnLeave(DoId id, ObjectState state) => table.Remove(id, state, out _);

    private void OnCall(ref WireReader reader)
    {
        var id = reader.ReadDoId();
        int index = reader.ReadUInt16();
        if (id == LoginManager.WellKnownId)
        {
            var loginMethod = loginModel.FindMethodByWireId(index) ?? throw new WireFormatException(WireError.UnknownMember, $"{loginModel.Name} has no method {index}");
            var arguments = loginMethod.DecodeArguments(ref reader);
            TaskCompletionSource<object?[]>? pending = null;
            lock (gate)
            {
                if (pendingLogins.Count > 0)
                {
                    pending = pendingLogins.Dequeue();
                }
            }

            pending?.TrySetResult(arguments);
            return;
        }

        if (!table.TryGet(id, out var target) || target.Model.FindMethodByWireId(index) is not { } method)
        {
            return;
        }

        var args = method.DecodeArguments(ref reader);
        method.Invoke(target, args);
        table.StreamsOf(target.Model).Calls.OnNext(new RpcCall(target, method, args, DoId.Empty));
    }

    private void Close(DisconnectReason reason)
    {
        // The socket and the requests end at once, on any thread; the objects and the events end in the dispatcher,
        // after the messages that arrived before.
        if (Interlocked.Exchange(ref closing, 1) == 1)
        {
            return;
        }

        stop.Cancel();
        timer?.Dispose();
        ClientConnection current;
        lock (gate)
        {
            current = connection;
        }

        current.Dispose();
        reconnecting?.TrySetResult(false);
        var failure = reason.EjectCode is int code ? new ClientEjectedException(code, reason.Reason) : (Exception)new IOException($"Disconnected: {reason.Reason}");
        helloDone.TrySetException(failure);
        List<TaskCompletionSource<Interest>> interestsWaiting;
        List<TaskCompletionSource<object?[]>> loginsWaiting;
        lock (gate)
        {
            interestsWaiting = pendingInterests.Values.Select(p => p.Done).ToList();
            pendingInterests.Clear();
            loginsWaiting = pendingLogins.ToList();
            pendingLogins.Clear();
        }

        foreach (var waiting in interestsWaiting)
        {
            waiting.TrySetException(failure);
        }

        foreach (var waiting in loginsWaiting)
        {
            waiting.TrySetException(failure);
        }

        events.Run(static state => { var (self, why) = ((PastryClient, DisconnectReason))state!; self.Finish(why); }, (this, reason));
    }

    private void Finish(DisconnectReason reason)
    {
        // Objects of a closed connection are disabled (the server may still have them), and the class streams end.
        table.Close(ObjectState.Disabled);

        if (reason.EjectCode is not null)
        {
            ejected.OnNext(reason);
        }

        ejected.OnCompleted();
        requestsRefused.OnCompleted();
        reconnectingEvents.OnCompleted();
        reconnectedEvents.OnCompleted();
        sessionLostEvents.OnCompleted();
        closed.TrySetResult(reason);
    }

    /// <summary>A received message waiting for the game's thread, in a pooled copy of its payload.</summary>
    private sealed class ReceivedMessage(PastryClient client, MessageType type, byte[] payload, int length)
    {
        public void Apply()
        {
            try
            {
                client.Apply(type, payload.AsSpan(0, length));
            }
            catch (Exception ex) when (ex is WireFormatException or InvalidDataException)
            {
                client.Close(new DisconnectReason(null, $"connection lost: {ex.Message}"));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(payload);
            }
        }
    }
}
