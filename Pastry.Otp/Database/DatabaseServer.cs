using System.Data.Common;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.Actors;
using Pastry.Otp.Diagnostics;
using Pastry.Wire;

namespace Pastry.Otp.Database;

/// <summary>
/// The Database role (ARCHITECTURE 4): stores objects' Db fields in SQLite (the default) or PostgreSQL
/// (<see cref="DatabaseOptions.Provider"/>), one table per model. It is one participant
/// on <see cref="Messaging.Channel.Database"/> with one queue and one task, which works in batches: it drains the queue
/// (up to <see cref="DatabaseOptions.BatchMaxWrites"/> requests), applies them in one transaction, commits, and only
/// then sends the replies, so an acknowledged write is durable (see <see cref="SqliteDatabase"/> for SQLite's pragmas;
/// PostgreSQL's commit returns once its WAL is flushed, with its default <c>synchronous_commit=on</c>).
/// </summary>
internal sealed class DatabaseServer : IParticipant, IAsyncDisposable
{
    private readonly IMessageRouter router;
    private readonly DatabaseOptions options;
    private readonly ILogger logger;
    private readonly DbConnection connection;
    private readonly Queries.ISqlDialect dialect;
    private readonly ObjectStore store;
    private readonly ActorMailbox inbox;
    private readonly Queries.QueryRunner queries;
    private readonly List<Envelope> batch = new();
    private readonly List<(Envelope Reply, Messaging.Channel Target)> replies = new();
    private readonly PooledBufferWriter scratch = new(256);
    private readonly string where;
    private Task? loop;
    private long committedWrites;
    private long batches;
    private readonly OtpMetrics? metrics;
    private string? lastError;

    // Writes nobody waits for (the State Server's write-through sets) that were in a failed batch: they go first into
    // the next batch, so that a fault that clears loses none of them (bounded by MaxRetainedWrites).
    private readonly Queue<Envelope> retained = new();
    private readonly FaultEpisode faults;
    private long droppedWrites;
    private TimeSpan retryDelay;

    /// <summary>Unacknowledged writes held for the next batch after a failed one, at most.</summary>
    internal const int MaxRetainedWrites = 65_536;

    /// <summary>The longest pause between batches while the database keeps failing.</summary>
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Opens the database and checks that it is migrated for <paramref name="registry"/>'s models (applying a safe
    /// migration when <see cref="DatabaseOptions.AutoMigrate"/> is on). Call <see cref="Start"/> to handle messages.
    /// </summary>
    /// <exception cref="DatabaseException">The file is missing or damaged, the server unreachable, or the database not migrated; the message says what to run.</exception>
    /// <param name="router">The Message Director.</param>
    /// <param name="registry">The app's models.</param>
    /// <param name="options">Settings.</param>
    /// <param name="logger">Where logs go.</param>
    /// <param name="metrics">Where batch sizes, commit times and errors are counted; none when null.</param>
    public DatabaseServer(IMessageRouter router, ModelRegistry registry, DatabaseOptions options, ILogger logger, OtpMetrics? metrics = null)
    {
        this.metrics = metrics;
        ArgumentNullException.ThrowIfNull(options);
        this.router = router;
        this.options = options;
        this.logger = logger;
        faults = new FaultEpisode(logger, "The database", "every request gets a Failed answer, write-through sets are held for the next batch, and RAM traffic goes on");
        where = DatabaseConnections.Describe(options);
        var mapping = DbMapping.FromRegistry(registry);
        connection = DatabaseConnections.Open(options, create: options.AutoMigrate);
        dialect = Queries.SqlDialects.Of(connection);
        try
        {
            DatabaseConnections.EnsureMigrated(connection, mapping, options, options.AutoMigrate);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            connection.Dispose();
            throw SqliteDatabase.Translate(ex, where);
        }
        catch (Npgsql.NpgsqlException ex)
        {
            connection.Dispose();
            throw DatabaseConnections.Unreachable(new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString), ex);
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        store = new ObjectStore(connection, registry);

        // It answers the State Server's requests, so its loop never waits on the State Server's inbox (see ActorMailbox).
        inbox = new ActorMailbox("Database", Messaging.Channel.Database, options.MailboxCapacity, waitsOnOthers: false, router, logger, Overloaded);
        try
        {
            queries = new Queries.QueryRunner(options, registry, router, logger);
        }
        catch
        {
            inbox.Dispose();
            store.Dispose();
            connection.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string Name => "database";

    /// <summary>Db field writes committed so far (creates count one per Db field).</summary>
    public long CommittedWrites => Interlocked.Read(ref committedWrites);

    /// <summary>Transactions committed so far.</summary>
    public long Batches => Interlocked.Read(ref batches);

    /// <summary>Where the data is: the SQLite file as an absolute path, or the PostgreSQL database, host and port.</summary>
    public string FullPath => where;

    /// <summary>Whether the connection is open (it was opened and found migrated when the role was built).</summary>
    public bool IsOpen => connection.State == System.Data.ConnectionState.Open;

    /// <summary>Requests waiting in the role's queue.</summary>
    public int MailboxDepth => inbox.Depth;

    /// <summary>Whether the database is failing now: the last batch failed and none has committed since (see <see cref="LastError"/>).</summary>
    public bool IsFailing => faults.Active;

    /// <summary>The last failure (UTC time and message), or null when nothing failed since start.</summary>
    public string? LastError => Volatile.Read(ref lastError);

    /// <summary>Subscribes to the Database channel and starts the batch loop.</summary>
    public void Start()
    {
        router.Subscribe(this, Messaging.Channel.Database);
        loop = Task.Run(RunAsync);
        logger.LogInformation("Database ready: {Path} ({Durability}, batches of up to {Max})", where, dialect is Queries.PostgresDialect ? "PostgreSQL, a batch is acknowledged after its commit" : "WAL, synchronous=FULL", options.BatchMaxWrites);
    }

    /// <inheritdoc />
    public void Deliver(Envelope envelope, ReadOnlySpan<Pastry.Messaging.Channel> targets)
    {
        if (envelope.Type == InternalMessageType.DbQuery)
        {
            // Queries run on their own reader, beside the write batches (see QueryRunner).
            queries.Enqueue(envelope);
            return;
        }

        inbox.Deliver(envelope);
    }

    /// <summary>Queries answered so far.</summary>
    public long QueriesAnswered => queries.Answered;

    /// <summary>Stops taking requests, commits every queued one, and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        router.UnsubscribeAll(this);
        inbox.Complete();
        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        await queries.DisposeAsync().ConfigureAwait(false);
        inbox.Dispose();
        store.Dispose();
        connection.Dispose();
        scratch.Dispose();
    }

    private async Task RunAsync()
    {
        while (await WaitForWorkAsync().ConfigureAwait(false))
        {
            batch.Clear();
            if (retained.Count > 0)
            {
                // Older than anything in the inbox, so they are applied first and later writes still win.
                batch.AddRange(retained);
                retained.Clear();
            }

            while (batch.Count < options.BatchMaxWrites && inbox.TryRead(out var envelope))
            {
                batch.Add(envelope);
            }

            if (batch.Count < options.BatchMaxWrites && options.BatchMaxDelay > TimeSpan.Zero)
            {
                await GatherMoreAsync().ConfigureAwait(false);
            }

            using var running = inbox.EnterLoop();
            RunBatch();
        }
    }

    /// <summary>
    /// Waits for requests. While the database is failing it first pauses (doubling up to a second), so that a fault
    /// costs little CPU, and it wakes up without new requests to retry the held writes: a fault that clears is
    /// noticed by itself. False when the inbox is closed and empty.
    /// </summary>
    private async ValueTask<bool> WaitForWorkAsync()
    {
        if (retryDelay <= TimeSpan.Zero)
        {
            return await inbox.WaitToReadAsync().ConfigureAwait(false);
        }

        await Task.Delay(retryDelay).ConfigureAwait(false);
        if (retained.Count > 0)
        {
            return true;
        }

        return await inbox.WaitToReadAsync().ConfigureAwait(false);
    }

    private async Task GatherMoreAsync()
    {
        using var timeout = new CancellationTokenSource(options.BatchMaxDelay);
        try
        {
            while (batch.Count < options.BatchMaxWrites && await inbox.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
            {
                while (batch.Count < options.BatchMaxWrites && inbox.TryRead(out var envelope))
                {
                    batch.Add(envelope);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The delay is over: commit what we have.
        }
    }

    private void RunBatch()
    {
        replies.Clear();
        long writes = 0;
        bool failed = false;
        var started = Stopwatch.GetTimestamp();
        try
        {
            // A PostgreSQL link that broke (the server restarted) is opened again here, inside the try, so a server that
            // is still down fails this batch like any other fault and a server that came back takes the next one.
            DatabaseConnections.Reconnect(connection);
            long pipelined = -1;
            if (dialect is Queries.PostgresDialect && batch.Count > 1 && batch.TrueForAll(e => e.Type == InternalMessageType.DbSetFields))
            {
                using var transaction = connection.BeginTransaction();
                store.Transaction = transaction;
                pipelined = TryRunPipelined();
                if (pipelined >= 0)
                {
                    transaction.Commit();
                    writes = pipelined;
                }
                else
                {
                    transaction.Rollback();
                    replies.Clear();
                }
            }

            if (pipelined < 0)
            {
                using var transaction = connection.BeginTransaction();
                store.Transaction = transaction;
                foreach (var envelope in batch)
                {
                    writes += Handle(envelope);
                }

                transaction.Commit();
            }

            store.Transaction = null;
        }
        catch (Exception ex)
        {
            // The commit (or the transaction itself) failed: nothing in this batch is durable, so no request may be
            // answered as done. Tell every requester that it failed, and hold the writes nobody waits for.
            store.Transaction = null;
            faults.Failed(ex);
            Volatile.Write(ref lastError, $"{DateTime.UtcNow:O} batch of {batch.Count} rolled back: {ex.Message}");
            failed = true;
            replies.Clear();
            foreach (var envelope in batch)
            {
                if (!TryReadContext(envelope, out uint context))
                {
                    continue;
                }

                if (context == 0 && envelope.Type == InternalMessageType.DbSetFields)
                {
                    Retain(envelope);
                }
                else
                {
                    Reply(envelope, context, DatabaseStatus.Failed, $"the database failed: {ex.Message}");
                }
            }

            writes = 0;
            retryDelay = retryDelay <= TimeSpan.Zero ? TimeSpan.FromMilliseconds(50) : TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, MaxRetryDelay.Ticks));
        }

        if (!failed)
        {
            retryDelay = TimeSpan.Zero;
            faults.Succeeded();
            long dropped = Interlocked.Exchange(ref droppedWrites, 0);
            if (dropped > 0)
            {
                logger.LogError("The database recovered, but {Dropped} write-through set(s) made while it failed were dropped (more than {Max} were held); those fields are newer in RAM than in the database until they change again", dropped, MaxRetainedWrites);
            }
        }

        metrics?.DatabaseBatch(batch.Count, started, failed);
        Interlocked.Add(ref committedWrites, writes);
        Interlocked.Increment(ref batches);
        foreach (var (reply, target) in replies)
        {
            router.Publish(reply, target);
        }

        if (logger.IsEnabled(LogLevel.Trace))
        {
            logger.LogTrace("Committed {Count} request(s) in {Elapsed} ms", batch.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>Handles one request inside the batch's transaction; returns the Db field writes it made.</summary>
    private int Handle(Envelope envelope)
    {
        uint context = 0;
        try
        {
            var reader = new WireReader(envelope.Payload.Span);
            var table = ReadHeader(envelope, ref reader, out context);
            if (table is null)
            {
                return 0;
            }

            switch (envelope.Type)
            {
                case InternalMessageType.DbCreateObject:
                    {
                        var values = ReadValues(ref reader, table, envelope, out string? problem);
                        if (values is null)
                        {
                            Reply(envelope, context, DatabaseStatus.Invalid, problem!);
                            return 0;
                        }

                        var result = envelope.Subject.IsEmpty
                            ? new ObjectStore.WriteResult(DatabaseStatus.Invalid, $"create {table.Model.Name}: the DoId is empty")
                            : store.Create(table, envelope.Subject, values);
                        Reply(envelope, context, result);
                        return result.Status == DatabaseStatus.Ok ? table.DbFields.Length : 0;
                    }

                case InternalMessageType.DbGetAll:
                    {
                        reader.EnsureAtEnd();
                        var (status, reason, values) = store.GetAll(table, envelope.Subject);
                        if (status == DatabaseStatus.BadData)
                        {
                            logger.LogError("Bad data: {Reason}", reason);
                        }

                        Reply(envelope, context, status, reason, values);
                        return 0;
                    }

                case InternalMessageType.DbSetFields:
                    {
                        var values = ReadValues(ref reader, table, envelope, out string? problem);
                        var result = values is null ? new ObjectStore.WriteResult(DatabaseStatus.Invalid, problem!) : store.SetFields(table, envelope.Subject, values);
                        return Answer(envelope, context, values, result);
                    }

                case InternalMessageType.DbSetFieldsIfEquals:
                    return SetFieldsIfEquals(envelope, context, ref reader, table);

                case InternalMessageType.DbDeleteObject:
                    {
                        reader.EnsureAtEnd();
                        var (status, reason) = store.Delete(table, envelope.Subject);
                        Reply(envelope, context, status, reason);
                        return 0;
                    }

                default:
                    Reply(envelope, context, DatabaseStatus.Invalid, $"the Database role does not handle {envelope.Type}");
                    return 0;
            }
        }
        catch (WireFormatException ex)
        {
            Reply(envelope, context, DatabaseStatus.Invalid, $"malformed {envelope.Type}: {ex.Message}");
            return 0;
        }
        catch (DbException ex) when (dialect.IsStatementError(ex))
        {
            // One statement failed; SQLite undid that statement only (PostgreSQL went back to the write's savepoint, see
            // ObjectStore), so the rest of the batch still commits. Errors of the database itself (a full disk, I/O, a
            // read-only file, a lost server) are not caught here: the whole transaction may be gone, so they fail the
            // batch (RunBatch).
            logger.LogError(ex, "Database failed on {Envelope}", envelope);
            Volatile.Write(ref lastError, $"{DateTime.UtcNow:O} {envelope.Type} failed: {ex.Message}");
            metrics?.DatabaseStatementFailed();
            Reply(envelope, context, DatabaseStatus.Failed, $"the database failed: {ex.Message}");
            return 0;
        }
    }

    /// <summary>Reads a request's context and class; answers Invalid and returns null when the class has no table.</summary>
    private ObjectStore.Table? ReadHeader(Envelope envelope, ref WireReader reader, out uint context)
    {
        context = reader.ReadUInt32();
        uint classId = reader.ReadUInt32();
        var table = store.TableOf(classId);
        if (table is null)
        {
            Reply(envelope, context, DatabaseStatus.Invalid, $"{envelope.Type}: class id {classId} is unknown or has no Db fields");
        }

        return table;
    }

    /// <summary>Answers a set (a write-through set, context 0, is only logged when it fails); returns the writes it made.</summary>
    private int Answer(Envelope envelope, uint context, List<ObjectStore.FieldValue>? values, ObjectStore.WriteResult result)
    {
        if (context != 0)
        {
            Reply(envelope, context, result);
        }
        else if (result.Status != DatabaseStatus.Ok)
        {
            logger.LogWarning("Write-through from {Sender} not stored: {Reason}", envelope.Sender, result.Reason);
        }

        return result.Status == DatabaseStatus.Ok ? values!.Count : 0;
    }

    /// <summary>
    /// PostgreSQL, for a batch of plain sets only (the State Server's write-through and AIs' saves, the common case):
    /// every update goes to the server in one round trip instead of one each (SQLite has no round trips to save).
    /// Returns the writes made, or -1 when a statement failed: the transaction is then aborted, and the caller rolls
    /// it back and runs the batch one guarded statement at a time, where the failing write gets its own answer.
    /// </summary>
    private long TryRunPipelined()
    {
        var pending = new List<(Envelope Envelope, uint Context, ObjectStore.Table Table, List<ObjectStore.FieldValue> Values)>(batch.Count);
        long writes = 0;
        foreach (var envelope in batch)
        {
            uint context = 0;
            try
            {
                var reader = new WireReader(envelope.Payload.Span);
                var table = ReadHeader(envelope, ref reader, out context);
                if (table is null)
                {
                    continue;
                }

                var values = ReadValues(ref reader, table, envelope, out string? problem);
                if (values is null)
                {
                    Answer(envelope, context, values, new ObjectStore.WriteResult(DatabaseStatus.Invalid, problem!));
                    continue;
                }

                pending.Add((envelope, context, table, values));
            }
            catch (WireFormatException ex)
            {
                Reply(envelope, context, DatabaseStatus.Invalid, $"malformed {envelope.Type}: {ex.Message}");
            }
        }

        var changed = store.SetFieldsPipelined(pending.Select(p => (p.Table, p.Envelope.Subject, (IReadOnlyList<ObjectStore.FieldValue>)p.Values)).ToList());
        if (changed is null)
        {
            return -1;
        }

        for (int i = 0; i < pending.Count; i++)
        {
            var (envelope, context, table, values) = pending[i];
            var result = changed[i] == 1 ? ObjectStore.WriteResult.Done : new ObjectStore.WriteResult(DatabaseStatus.NotFound, $"no stored {table.Model.Name} with DoId {envelope.Subject}");
            writes += Answer(envelope, context, values, result);
        }

        return writes;
    }

    private int SetFieldsIfEquals(Envelope envelope, uint context, ref WireReader reader, ObjectStore.Table table)
    {
        int count = reader.ReadUInt16();
        var expected = new List<ObjectStore.FieldValue>(count);
        var updates = new List<ObjectStore.FieldValue>(count);
        for (int i = 0; i < count; i++)
        {
            var field = ReadDbField(ref reader, table);
            if (field is null)
            {
                Reply(envelope, context, DatabaseStatus.Invalid, $"{table.Model.Name} field {i} of the request is not a Db field");
                return 0;
            }

            object? old = field.Codec.ReadBoxed(ref reader);
            expected.Add(new ObjectStore.FieldValue(field, Array.Empty<byte>(), ColumnValues.ToSql(field.Codec.SchemaName, old)));
            var value = CheckValue(ref reader, table, field, out string? problem);
            if (value is null)
            {
                Reply(envelope, context, DatabaseStatus.Invalid, problem!);
                return 0;
            }

            updates.Add(value.Value);
        }

        reader.EnsureAtEnd();
        var result = store.SetFieldsIfEquals(table, envelope.Subject, expected, updates);
        if (result.Status == DatabaseStatus.UniqueViolation)
        {
            Reply(envelope, context, result);
            return 0;
        }

        var status = result.Status;
        var fields = updates.Select(u => u.Field).ToList();
        var (readStatus, reason, current) = store.GetAll(table, envelope.Subject, fields);
        if (readStatus != DatabaseStatus.Ok)
        {
            Reply(envelope, context, readStatus, reason);
            return 0;
        }

        Reply(envelope, context, status, string.Empty, current);
        return status == DatabaseStatus.Ok ? updates.Count : 0;
    }

    private List<ObjectStore.FieldValue>? ReadValues(ref WireReader reader, ObjectStore.Table table, Envelope envelope, out string? problem)
    {
        int count = reader.ReadUInt16();
        var values = new List<ObjectStore.FieldValue>(count);
        for (int i = 0; i < count; i++)
        {
            var field = ReadDbField(ref reader, table);
            if (field is null)
            {
                problem = $"{envelope.Type} {table.Model.Name} {envelope.Subject}: value {i} is not for a Db field";
                return null;
            }

            var value = CheckValue(ref reader, table, field, out problem);
            if (value is null)
            {
                return null;
            }

            if (values.Exists(v => v.Field == field))
            {
                problem = $"{envelope.Type} {table.Model.Name} {envelope.Subject}: field {field.Name} is given twice";
                return null;
            }

            values.Add(value.Value);
        }

        reader.EnsureAtEnd();
        problem = null;
        return values;
    }

    private static FieldDescriptor? ReadDbField(ref WireReader reader, ObjectStore.Table table)
    {
        int index = reader.ReadUInt16();
        var field = table.Model.FindFieldByWireId(index) ?? throw new WireFormatException(WireError.UnknownMember, $"{table.Model.Name} has no field {index}");
        return field.IsDb ? field : null;
    }

    /// <summary>Decodes, cleans and validates one value; returns it ready to bind, or null with the problem.</summary>
    private ObjectStore.FieldValue? CheckValue(ref WireReader reader, ObjectStore.Table table, FieldDescriptor field, out string? problem)
    {
        scratch.Reset();
        var problems = field.DecodeAndValidate(ref reader, table.Context, scratch);
        if (problems is not null)
        {
            problem = $"{table.Model.Name}.{field.Name}: {string.Join(" ", problems)}";
            return null;
        }

        byte[] encoded = scratch.WrittenSpan.ToArray();
        var cleaned = new WireReader(encoded);
        object? value = field.Codec.ReadBoxed(ref cleaned);
        object sql = ColumnValues.ToSql(field.Codec.SchemaName, value);
        if (sql is double d && double.IsNaN(d))
        {
            problem = $"{table.Model.Name}.{field.Name}: NaN cannot be stored (SQLite stores it as NULL)";
            return null;
        }

        if (sql is string text && dialect is Queries.PostgresDialect && text.Contains('\0', StringComparison.Ordinal))
        {
            problem = $"{table.Model.Name}.{field.Name}: a NUL character cannot be stored (PostgreSQL text cannot hold one)";
            return null;
        }

        problem = null;
        return new ObjectStore.FieldValue(field, encoded, sql);
    }

    private void Reply(Envelope request, uint context, ObjectStore.WriteResult result) =>
        Reply(request, context, result.Status, result.Reason, conflict: result.Conflict);

    private void Reply(Envelope request, uint context, DatabaseStatus status, string reason, List<(FieldDescriptor Field, byte[] Value)>? values = null, ModelIndex? conflict = null)
    {
        if (status != DatabaseStatus.Ok && status != DatabaseStatus.NotEqual)
        {
            logger.LogDebug("Database answered {Type} from {Sender} with {Status}: {Reason}", request.Type, request.Sender, status, reason);
        }

        if (request.Sender.Kind is ChannelKind.None or ChannelKind.Location)
        {
            return;
        }

        var type = ReplyTypeOf(request.Type);
        scratch.Reset();
        if (type == InternalMessageType.Error)
        {
            scratch.WriteString(reason);
        }
        else
        {
            scratch.WriteUInt32(context);
            scratch.WriteByte((byte)status);
            scratch.WriteString(reason);
            if (status == DatabaseStatus.UniqueViolation)
            {
                // The fields of the broken constraint, so that the AI's exception names them without parsing the reason.
                var fields = conflict?.Fields ?? Array.Empty<FieldDescriptor>();
                scratch.WriteUInt16((ushort)fields.Count);
                foreach (var field in fields)
                {
                    scratch.WriteUInt16(field.WireId);
                }
            }
            else if (values is not null)
            {
                scratch.WriteUInt16((ushort)values.Count);
                foreach (var (field, value) in values)
                {
                    scratch.WriteUInt16(field.WireId);
                    scratch.WriteRaw(value);
                }
            }
        }

        replies.Add((new Envelope(type, Messaging.Channel.Database, request.Subject, scratch.WrittenSpan.ToArray()), request.Sender));
    }

    /// <summary>
    /// The reply type of each request type (<see cref="InternalMessageType.Error"/> for what is not a request); also the
    /// State Server's, when it refuses a participant's write for the Database.
    /// </summary>
    internal static InternalMessageType ReplyTypeOf(InternalMessageType request) => request switch
    {
        InternalMessageType.DbCreateObject => InternalMessageType.DbCreateObjectResp,
        InternalMessageType.DbGetAll => InternalMessageType.DbGetAllResp,
        InternalMessageType.DbSetFields => InternalMessageType.DbSetFieldsAck,
        InternalMessageType.DbSetFieldsIfEquals => InternalMessageType.DbSetFieldsIfEqualsResp,
        InternalMessageType.DbDeleteObject => InternalMessageType.DbDeleteObjectResp,
        InternalMessageType.DbQuery => InternalMessageType.DbQueryResp,
        _ => InternalMessageType.Error,
    };

    /// <summary>
    /// The answer to a request that a full inbox refused: its own reply type, its context and <see cref="DatabaseStatus.Overloaded"/>,
    /// so the requester fails at once with a typed error instead of waiting for an answer that never comes. Null for
    /// what has no reply (a write-through, context 0), which gets the inbox's plain error.
    /// </summary>
    internal static Envelope? Overloaded(Envelope request, string reason)
    {
        var type = ReplyTypeOf(request.Type);
        if (type == InternalMessageType.Error || !TryReadContext(request, out uint context) || (request.Type == InternalMessageType.DbSetFields && context == 0))
        {
            return null;
        }

        var payload = new System.Buffers.ArrayBufferWriter<byte>(reason.Length + 16);
        payload.WriteUInt32(context);
        payload.WriteByte((byte)DatabaseStatus.Overloaded);
        payload.WriteString(reason);
        return new Envelope(type, Messaging.Channel.Database, request.Subject, payload.WrittenSpan.ToArray());
    }

    /// <summary>Holds an unacknowledged write for the next batch; past <see cref="MaxRetainedWrites"/> the oldest is dropped and counted.</summary>
    private void Retain(Envelope envelope)
    {
        if (retained.Count >= MaxRetainedWrites)
        {
            retained.Dequeue();
            droppedWrites++;
        }

        retained.Enqueue(envelope);
    }

    private static bool TryReadContext(Envelope envelope, out uint context)
    {
        context = 0;
        if (envelope.Payload.Length < 4)
        {
            return false;
        }

        context = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        return true;
    }
}
