using Channel = Pastry.Messaging.Channel;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Recorder = Pastry.Tests.Otp.StateServerTests.Recorder;

namespace Pastry.Tests.Otp;

/// <summary>The Message Director's TCP endpoint with a <see cref="RemoteMessageRouter"/> on the other end, over real loopback sockets.</summary>
[TestClass]
public sealed class MessageDirectorLinkTests
{
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));

    /// <summary>The privileged secret of the fixtures' Message Directors.</summary>
    internal const string PrivilegedSecret = "fixture privileged secret";

    [TestMethod]
    public async Task RemoteSubscriber_ReceivesWhatIsPublishedInProcess_OnlyOnItsChannels()
    {
        await using var fixture = await Fixture.StartAsync();
        var remote = new Recorder();
        var mine = Channel.ForParticipant(DoId.NewId());
        fixture.Link.Subscribe(remote, mine);
        await fixture.SyncAsync();

        fixture.Router.Publish(Message(1), Channel.ForParticipant(DoId.NewId()));
        fixture.Router.Publish(Message(2), mine);

        Assert.AreEqual(2, (await remote.NextAsync()).Payload.Span[0], "Only the subscribed channel's message arrives.");
    }

    [TestMethod]
    public async Task RemoteRangeSubscription_ReceivesZonesInRange_ThenNothingAfterUnsubscribe()
    {
        await using var fixture = await Fixture.StartAsync();
        var remote = new Recorder();
        var parent = DoId.NewId();
        fixture.Link.SubscribeRange(remote, parent, 10, 20);
        await fixture.SyncAsync();

        fixture.Router.Publish(Message(1), Channel.ForLocation(parent, 9));
        fixture.Router.Publish(Message(2), Channel.ForLocation(parent, 15));
        Assert.AreEqual(2, (await remote.NextAsync()).Payload.Span[0]);

        fixture.Link.UnsubscribeRange(remote, parent, 10, 20);
        var marker = Channel.ForParticipant(DoId.NewId());
        fixture.Link.Subscribe(remote, marker);
        await fixture.SyncAsync();
        fixture.Router.Publish(Message(3), Channel.ForLocation(parent, 15));
        fixture.Router.Publish(Message(4), marker);
        Assert.AreEqual(4, (await remote.NextAsync()).Payload.Span[0], "The range was unsubscribed.");
    }

    [TestMethod]
    public async Task RemotePublish_ReachesInProcessSubscribers_WithSenderAndSubject()
    {
        await using var fixture = await Fixture.StartAsync();
        var local = new Recorder();
        var target = Channel.ForParticipant(DoId.NewId());
        fixture.Router.Subscribe(local, target);
        var subject = DoId.NewId();

        fixture.Link.Publish(new Envelope(InternalMessageType.SetField, Channel.ForParticipant(subject), subject, new byte[] { 7, 8 }), target);

        var received = await local.NextAsync();
        Assert.AreEqual(InternalMessageType.SetField, received.Type);
        Assert.AreEqual(subject, received.Subject);
        CollectionAssert.AreEqual(new byte[] { 7, 8 }, received.Payload.ToArray());
    }

    [TestMethod]
    public async Task PostRemoveMessages_AreRouted_WhenTheLinkDrops_AndNotBefore()
    {
        await using var fixture = await Fixture.StartAsync();
        var local = new Recorder();
        var cleanup = Channel.ForParticipant(DoId.NewId());
        fixture.Router.Subscribe(local, cleanup);
        fixture.Link.AddPostRemove(Message(42), cleanup);
        await fixture.SyncAsync();
        Assert.IsFalse(local.TryNext(out _), "Post-remove messages wait for the link to drop.");

        await fixture.Link.DisposeAsync();

        Assert.AreEqual(42, (await local.NextAsync()).Payload.Span[0]);
    }

    [TestMethod]
    public async Task ClearPostRemoves_ForgetsThem()
    {
        await using var fixture = await Fixture.StartAsync();
        var local = new Recorder();
        var cleanup = Channel.ForParticipant(DoId.NewId());
        fixture.Router.Subscribe(local, cleanup);
        fixture.Link.AddPostRemove(Message(42), cleanup);
        fixture.Link.ClearPostRemoves();
        await fixture.SyncAsync();

        await fixture.Link.DisposeAsync();
        fixture.Router.Publish(Message(1), cleanup);

        Assert.AreEqual(1, (await local.NextAsync()).Payload.Span[0], "Only the marker arrives: the post-remove was cleared.");
    }

    internal static Envelope Message(byte tag) => new(InternalMessageType.Error, default, DoId.Empty, new[] { tag });

    /// <summary>An MD endpoint on an OS-assigned port and one link to it.</summary>
    internal sealed class Fixture : IAsyncDisposable
    {
        private Fixture(InProcessRouter router, MessageDirectorServer server, RemoteMessageRouter link)
        {
            Router = router;
            Server = server;
            Link = link;
        }

        public InProcessRouter Router { get; }

        public MessageDirectorServer Server { get; }

        public RemoteMessageRouter Link { get; }

        /// <summary>
        /// Starts an MD and connects one link: by default a privileged one, which may route anything (these tests are
        /// about routing); <see cref="MessageDirectorLinkAuthenticationTests"/> covers what a participant may do.
        /// </summary>
        public static async Task<Fixture> StartAsync(MessageDirectorOptions? options = null, MessageDirectorCredentials? credentials = null)
        {
            var router = new InProcessRouter();
            var server = new MessageDirectorServer(options ?? new MessageDirectorOptions { Port = 0, PrivilegedSecret = PrivilegedSecret }, router, NullLogger.Instance);
            server.Start();
            try
            {
                var link = await RemoteMessageRouter.ConnectAsync("127.0.0.1", server.LocalEndPoint!.Port, credentials ?? new MessageDirectorCredentials(PrivilegedSecret, Privileged: true));
                return new Fixture(router, server, link);
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }

        /// <summary>Waits until the MD has handled everything the link sent so far: a round trip through a probe channel.</summary>
        public async Task SyncAsync()
        {
            var probe = new Recorder();
            var channel = Channel.ForParticipant(DoId.NewId());
            Router.Subscribe(probe, channel);
            Link.Publish(Message(0), channel);
            await probe.NextAsync();
            Router.Unsubscribe(probe, channel);
        }

        public async ValueTask DisposeAsync()
        {
            await Link.DisposeAsync();
            await Server.DisposeAsync();
        }
    }
}
