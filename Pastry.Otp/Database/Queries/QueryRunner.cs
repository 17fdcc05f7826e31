using System.Data.Common;
using Dapper;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.Actors;
using Pastry.Wire;

namespace Pastry.Otp.Database.Queries;

/// <summary>
/// Answers <see cref="InternalMessageType.DbQuery"/> for the Database role on its own read-only connection and task,
/// so a query never waits for, nor holds up, a write batch (SQLite's WAL, and PostgreSQL's MVCC, let one writer and
/// readers work at once). A query
/// sees every write committed before it starts: every acknowledged write, and the write-through sets of earlier batches.
/// Rows are checked like activated objects; a row with bad data is left out and reported (logged here, and named in
/// the reply).
/// </summary>
internal sealed class QueryRunner : IAsyncDisposable
{
    private readonly IMessageRouter router;
    private readonly ILogger logger;
    private readonly int maxRows;
    private readonly int maxAnswerBytes;
    private readonly DbConnection connection;
    private readonly ObjectStore store;
    private readonly ISqlDialect dialect;
    private readonly ActorMailbox inbox;
    private readonly PooledBufferWriter reply = new(1024);
    private readonly Dictionary<string, DbCommand> commands = new(StringComparer.Ordinal);
    private readonly Task loop;
    private long answered;

    public QueryRunner(DatabaseOptions options, ModelRegistry registry, IMessageRouter router, ILogger logger)
    {
        this.router = router;
        this.logger = logger;
        maxRows = options.MaxQueryRows;
        maxAnswerBytes = options.MaxQueryAnswerBytes;
        connection = DatabaseConnections.Open(options, create: false);
        dialect = SqlDialects.Of(connection);
        MakeReadOnly();

        store = new ObjectStore(connection, registry);

        // Bounded by its own setting, and a query that finds it full is answered "overloaded" at once (a typed error on
        // the AI) rather than waiting: a busy answer is better than a stalled game loop. It never waits on others.
        inbox = new ActorMailbox("Database queries", Messaging.Channel.Database, options.MaxPendingQueries, waitsOnOthers: false, router, logger, DatabaseServer.Overloaded, waitsForRoom: false, capacitySetting: "Database:MaxPendingQueries");
        loop = Task.Run(RunAsync);
    }

    /// <summary>Queries answered so far.</summary>
    public long Answered => Interlocked.Read(ref answered);

    /// <summary>Queues a query.</summary>
    public void Enqueue(Envelope envelope) => inbox.Deliver(envelope);

    /// <summary>Answers the queued queries, then closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        inbox.Complete();
        await loop.ConfigureAwait(false);
        inbox.Dispose();
        ClearCommands();
        store.Dispose();
        connection.Dispose();
        reply.Dispose();
    }

    /// <summary>The connection refuses writes: a query is only ever a read, whatever SQL it became.</summary>
    private void MakeReadOnly() => connection.Execute(dialect is PostgresDialect
        ? "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
        : "PRAGMA query_only=1");

    private async Task RunAsync()
    {
        while (await inbox.WaitToReadAsync().ConfigureAwait(false))
        {
            using var running = inbox.EnterLoop();
            while (inbox.TryRead(out var envelope))
            {
                Answer(envelope);
                Interlocked.Increment(ref answered);
            }
        }
    }

    private void Answer(Envelope envelope)
    {
        uint context = 0;
        try
        {
            var reader = new WireReader(envelope.Payload.Span);
            context = reader.ReadUInt32();
            uint classId = reader.ReadUInt32();
            var table = store.TableOf(classId);
            if (table is null)
            {
                Refuse(envelope, context, DatabaseStatus.Invalid, $"query: class id {classId} is unknown or has no Db fields");
                return;
            }

            var query = QuerySpec.Read(ref reader, table.Model, out string? problem);
            if (query is null)
            {
                Refuse(envelope, context, DatabaseStatus.Invalid, $"query of {table.Model.Name}: {problem}");
                return;
            }

            if (query.Result != QueryResultKind.Count && query.Take > maxRows)
            {
                Refuse(envelope, context, DatabaseStatus.Invalid, $"query of {table.Model.Name}: Take({query.Take}) is more than Database:MaxQueryRows ({maxRows}); page with Skip/Take");
                return;
            }

            int? limit = query.Result == QueryResultKind.Count ? (query.Take == 0 ? null : query.Take) : (query.Take == 0 ? maxRows + 1 : query.Take);
            if (connection.State != System.Data.ConnectionState.Open)
            {
                // A PostgreSQL server that dropped the link: a fresh one (its prepared statements went with the old).
                ClearCommands();
                DatabaseConnections.Reconnect(connection);
                MakeReadOnly();
            }

            Run(envelope, context, table, query, limit);
        }
        catch (WireFormatException ex)
        {
            Refuse(envelope, context, DatabaseStatus.Invalid, $"malformed query: {ex.Message}");
        }
        catch (DbException ex)
        {
            logger.LogError(ex, "Database query from {Sender} failed", envelope.Sender);
            Refuse(envelope, context, DatabaseStatus.Failed, $"the database failed: {ex.Message}");
        }
    }

    private void Run(Envelope envelope, uint context, ObjectStore.Table table, QuerySpec query, int? limit)
    {
        var sql = QueryTranslator.Translate(query, dialect, limit);
        var command = Prepare(sql);
        if (query.Result == QueryResultKind.Count)
        {
            long count = (long)(command.ExecuteScalar() ?? 0L);
            Begin(context, DatabaseStatus.Ok, string.Empty);
            reply.WriteUInt64((ulong)count);
            reply.WriteUInt16(0);
            Send(envelope);
            return;
        }

        var ids = new List<DoId>();
        var rows = new List<List<(FieldDescriptor Field, byte[] Value)>>();
        var bad = new List<string>();

        // What the answer will weigh, counted while reading, so an answer that cannot fit in one Message Director frame
        // is refused before it is built (a frame over the link's limit would break the AI's link instead).
        long answerBytes = 64;
        using (var rowReader = command.ExecuteReader())
        {
            var row = new Dictionary<string, object?>(StringComparer.Ordinal);
            while (rowReader.Read())
            {
                var id = DoId.Read((byte[])rowReader.GetValue(0));
                answerBytes += DoId.Size;
                if (query.Result == QueryResultKind.Ids)
                {
                    ids.Add(id);
                    continue;
                }

                row.Clear();
                for (int i = 1; i < rowReader.FieldCount; i++)
                {
                    object value = rowReader.GetValue(i);
                    row[rowReader.GetName(i)] = value is DBNull ? null : value;
                }

                var values = store.CheckRow(table, row, null, out string? problem);
                if (values is null)
                {
                    string reason = $"stored {table.Model.Name} {id} has bad data (fix the row or restore it; it was not changed): {problem}";
                    logger.LogError("Bad data: {Reason}", reason);
                    if (bad.Count < 16)
                    {
                        bad.Add(reason);
                        answerBytes += 4 + System.Text.Encoding.UTF8.GetByteCount(reason);
                    }

                    continue;
                }

                answerBytes += 2;
                foreach (var (_, value) in values)
                {
                    answerBytes += 2 + value.Length;
                }

                if (answerBytes > maxAnswerBytes)
                {
                    Refuse(envelope, context, DatabaseStatus.AnswerTooLarge, $"query of {table.Model.Name}: the answer would be more than Database:MaxQueryAnswerBytes ({maxAnswerBytes} bytes) after {ids.Count + 1} row(s); Take fewer rows per page, or ask for DoIds (IdsAsync) and activate them");
                    return;
                }

                ids.Add(id);
                rows.Add(values);
            }
        }

        if (query.Take == 0 && ids.Count + bad.Count > maxRows)
        {
            Refuse(envelope, context, DatabaseStatus.Invalid, $"query of {table.Model.Name} matches more than Database:MaxQueryRows ({maxRows}) rows; page with Skip/Take, or narrow the filter");
            return;
        }

        Begin(context, DatabaseStatus.Ok, string.Empty);
        reply.WriteUInt32((uint)ids.Count);
        for (int i = 0; i < ids.Count; i++)
        {
            reply.WriteDoId(ids[i]);
            if (query.Result == QueryResultKind.Objects)
            {
                reply.WriteUInt16((ushort)rows[i].Count);
                foreach (var (field, value) in rows[i])
                {
                    reply.WriteUInt16(field.WireId);
                    reply.WriteRaw(value);
                }
            }
        }

        reply.WriteUInt16((ushort)bad.Count);
        foreach (string reason in bad)
        {
            reply.WriteString(reason);
        }

        Send(envelope);
    }

    /// <summary>The prepared statement for one SQL text (queries of one shape share it; their values change).</summary>
    private DbCommand Prepare(SqlQuery sql)
    {
        if (!commands.TryGetValue(sql.Text, out var command))
        {
            if (commands.Count >= 256)
            {
                // Bounded: an AI that builds many shapes (In lists of every length) must not grow this forever.
                ClearCommands();
            }

            command = connection.CreateCommand();
            command.CommandText = sql.Text;
            for (int i = 0; i < sql.Parameters.Count; i++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = dialect.Parameter(i);
                command.Parameters.Add(parameter);
            }

            commands[sql.Text] = command;
        }

        for (int i = 0; i < sql.Parameters.Count; i++)
        {
            command.Parameters[i].Value = sql.Parameters[i];
        }

        return command;
    }

    private void ClearCommands()
    {
        foreach (var old in commands.Values)
        {
            old.Dispose();
        }

        commands.Clear();
    }

    private void Refuse(Envelope request, uint context, DatabaseStatus status, string reason)
    {
        logger.LogDebug("Database answered a query from {Sender} with {Status}: {Reason}", request.Sender, status, reason);
        Begin(context, status, reason);
        Send(request);
    }

    private void Begin(uint context, DatabaseStatus status, string reason)
    {
        reply.Reset();
        reply.WriteUInt32(context);
        reply.WriteByte((byte)status);
        reply.WriteString(reason);
    }

    private void Send(Envelope request)
    {
        if (request.Sender.Kind is ChannelKind.None or ChannelKind.Location)
        {
            return;
        }

        router.Publish(new Envelope(InternalMessageType.DbQueryResp, Messaging.Channel.Database, request.Subject, reply.WrittenSpan.ToArray()), request.Sender);
    }
}
