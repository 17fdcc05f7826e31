using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Messaging;
using Pastry.Otp.Actors;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Tests.Otp;

[TestClass]
public sealed class ActorMailboxTests
{
    private const int Capacity = 16;
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));
    private static readonly Channel Session = Channel.ForSession(new DoId(0, 0x5E55));
    private static readonly Channel Ai = Channel.ForParticipant(new DoId(0, 0xA1));

    private readonly InProcessRouter router = new();

    [TestMethod]
    public void TryPost_WhenFull_RefusesAndCountsTheRefusal_AndTheDepthGaugeShowsTheBound()
    {
        string role = "bound-" + Guid.NewGuid().ToString("N");
        using var mailbox = NewMailbox(role);
        using var metrics = new MailboxMetrics(role);

        for (int i = 0; i < Capacity; i++)
        {
            Assert.IsTrue(mailbox.TryPost(NewEnvelope(Session)), $"message {i + 1} of {Capacity} fits");
        }

        Assert.IsFalse(mailbox.TryPost(NewEnvelope(Session)), "the inbox is full");
        Assert.AreEqual(Capacity, mailbox.Depth);
        Assert.AreEqual(Capacity, metrics.Depth());
        Assert.AreEqual(1, metrics.Refused);

        Assert.IsTrue(mailbox.TryRead(out _));
        Assert.IsTrue(mailbox.TryPost(NewEnvelope(Session)), "a read makes room for one more");
        Assert.AreEqual(Capacity, metrics.Depth());
    }

    [TestMethod]
    public async Task Post_WhenFull_WaitsUntilTheLoopTakesAMessage()
    {
        using var mailbox = NewMailbox();
        Fill(mailbox);

        var posting = Task.Run(() => mailbox.Post(NewEnvelope(Ai), Timeout));
        Assert.IsTrue(await WaitForWaitingSenderAsync(mailbox), "the sender waits for room");
        Assert.IsFalse(posting.IsCompleted, "no room yet");

        Assert.IsTrue(mailbox.TryRead(out _));
        Assert.IsTrue(await posting.WaitAsync(Timeout), "admitted once the loop took a message");
        Assert.AreEqual(Capacity, mailbox.Depth);
    }

    [TestMethod]
    public void Post_WhenFull_AndNoRoomComes_RefusesAfterItsWait()
    {
        using var mailbox = NewMailbox();
        Fill(mailbox);

        Assert.IsFalse(mailbox.Post(NewEnvelope(Ai), TimeSpan.FromMilliseconds(20)));
        Assert.AreEqual(Capacity, mailbox.Depth);
    }

    [TestMethod]
    public void Post_FromTheLoopOfARoleThatNeverWaits_IsAdmittedOverTheBound()
    {
        // The Database answers the State Server; if it waited for the State Server's room while the State Server
        // waited for its room, both would stop.
        using var stateServer = NewMailbox();
        using var database = NewMailbox(waitsOnOthers: false);
        Fill(stateServer);

        using (database.EnterLoop())
        {
            Assert.IsTrue(stateServer.Post(NewEnvelope(Channel.Database), Timeout));
        }

        Assert.AreEqual(Capacity + 1, stateServer.Depth);
    }

    [TestMethod]
    public void Post_FromItsOwnLoop_IsAdmittedOverTheBound()
    {
        using var mailbox = NewMailbox();
        Fill(mailbox);

        using (mailbox.EnterLoop())
        {
            Assert.IsTrue(mailbox.Post(NewEnvelope(Channel.StateServer), Timeout));
        }

        Assert.AreEqual(Capacity + 1, mailbox.Depth);
    }

    [TestMethod]
    public async Task StateServer_WithAFullInbox_RefusesAClientsMessageWithAnErrorNamingTheSetting()
    {
        // Not started: nothing drains the inbox, so it fills (and messages are handed to it directly).
        var server = new StateServer(router, ModelRegistry.FromTypes(new[] { typeof(StreetLamp) }), NullLogger.Instance, options: new StateServerOptions { MailboxCapacity = Capacity });
        await using (server)
        {
            var errors = new Inbox();
            router.Subscribe(errors, Session);
            for (int i = 0; i < Capacity; i++)
            {
                server.Deliver(NewEnvelope(Session), default);
            }

            Assert.IsEmpty(errors.Received, "a full inbox is not an error yet");
            server.Deliver(NewEnvelope(Session), default);

            var refusal = errors.Received.Single();
            Assert.AreEqual(InternalMessageType.Error, refusal.Type);
            Assert.AreEqual(Channel.StateServer, refusal.Sender);
            StringAssert.Contains(new WireReader(refusal.Payload.Span).ReadString(), "StateServer:MailboxCapacity");
            Assert.AreEqual(Capacity, server.InboxDepth);
        }
    }

    [TestMethod]
    public void StateServerOptions_WithAMailboxOfZero_NameTheKey()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new StateServerOptions { MailboxCapacity = 0 }.Validate());
        StringAssert.Contains(error.Message, "StateServer:MailboxCapacity");
    }

    [TestMethod]
    public void ADatabaseRequestThatFindsTheInboxFull_IsAnsweredInItsOwnReplyType_WithItsContextAndOverloaded_AtOnce()
    {
        // The Database role's way: a refusal in the request's own reply type, so the requester fails at once instead of
        // waiting for an answer; queries are refused without waiting for room, even from an AI.
        var requester = new Inbox();
        router.Subscribe(requester, Ai);
        using var mailbox = new ActorMailbox("Database queries", Channel.Database, Capacity, waitsOnOthers: false, router, NullLogger.Instance, Pastry.Otp.Database.DatabaseServer.Overloaded, waitsForRoom: false, capacitySetting: "Database:MaxPendingQueries");
        Fill(mailbox);

        var requests = new (InternalMessageType Request, InternalMessageType Reply)[]
        {
            (InternalMessageType.DbQuery, InternalMessageType.DbQueryResp),
            (InternalMessageType.DbGetAll, InternalMessageType.DbGetAllResp),
            (InternalMessageType.DbSetFields, InternalMessageType.DbSetFieldsAck),
            (InternalMessageType.DbSetFieldsIfEquals, InternalMessageType.DbSetFieldsIfEqualsResp),
            (InternalMessageType.DbCreateObject, InternalMessageType.DbCreateObjectResp),
            (InternalMessageType.DbDeleteObject, InternalMessageType.DbDeleteObjectResp),
        };
        uint context = 40;
        foreach (var (request, _) in requests)
        {
            mailbox.Deliver(new Envelope(request, Ai, new DoId(0, 0x1A), BitConverter.GetBytes(++context)));
        }

        // A write-through (context 0) has no reply type of its own: it gets the plain error.
        mailbox.Deliver(new Envelope(InternalMessageType.DbSetFields, Ai, new DoId(0, 0x1A), BitConverter.GetBytes(0u)));

        var received = requester.Received;
        Assert.AreEqual(requests.Length + 1, received.Count, "Every refusal is answered at once.");
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.AreEqual(requests[i].Reply, received[i].Type);
            var reply = DatabaseMessages.ReadReply(received[i]);
            Assert.AreEqual(41u + (uint)i, reply.Context);
            Assert.AreEqual(DatabaseStatus.Overloaded, reply.Status);
            StringAssert.Contains(reply.Reason, "Database:MaxPendingQueries");
        }

        Assert.AreEqual(InternalMessageType.Error, received[^1].Type);
        Assert.AreEqual(Capacity, mailbox.Depth, "Nothing was queued over the bound.");
    }

    private ActorMailbox NewMailbox(string role = "test", bool waitsOnOthers = true) =>
        new(role, Channel.StateServer, Capacity, waitsOnOthers, router, NullLogger.Instance);

    private static void Fill(ActorMailbox mailbox)
    {
        for (int i = 0; i < Capacity; i++)
        {
            Assert.IsTrue(mailbox.TryPost(NewEnvelope(Session)));
        }
    }

    private static Envelope NewEnvelope(Channel sender) =>
        new(InternalMessageType.SetField, sender, new DoId(0, 0x1A), Array.Empty<byte>());

    /// <summary>Waits (without sleeping a fixed time) until a sender is blocked in <see cref="ActorMailbox.Post"/>.</summary>
    private static async Task<bool> WaitForWaitingSenderAsync(ActorMailbox mailbox)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (!mailbox.HasWaitingSenders)
        {
            if (timeout.IsCancellationRequested)
            {
                return false;
            }

            await Task.Delay(1);
        }

        return true;
    }

    private sealed class Inbox : IParticipant
    {
        private readonly List<Envelope> received = new();

        public string Name => "inbox";

        public List<Envelope> Received
        {
            get
            {
                lock (received)
                {
                    return received.ToList();
                }
            }
        }

        public void Deliver(Envelope envelope, ReadOnlySpan<Channel> targets)
        {
            lock (received)
            {
                received.Add(envelope);
            }
        }
    }

    /// <summary>Reads the mailbox instruments of one role on the Pastry meter, as dotnet-counters would.</summary>
    private sealed class MailboxMetrics : IDisposable
    {
        private readonly MeterListener listener = new();
        private readonly string role;
        private int depth = -1;
        private long refused;

        public MailboxMetrics(string role)
        {
            this.role = role;
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Pastry" && instrument.Name.StartsWith("pastry.mailbox.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
            {
                if (IsMine(tags))
                {
                    depth = value;
                }
            });
            listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                if (IsMine(tags))
                {
                    Interlocked.Add(ref refused, value);
                }
            });
            listener.Start();
        }

        public long Refused => Interlocked.Read(ref refused);

        public int Depth()
        {
            listener.RecordObservableInstruments();
            return depth;
        }

        public void Dispose() => listener.Dispose();

        private bool IsMine(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "role" && Equals(tag.Value, role))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
