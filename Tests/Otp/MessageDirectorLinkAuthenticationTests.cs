using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Pastry.Ai;
using Pastry.Messaging;
using Pastry.Otp.MessageDirector;
using Pastry.Wire;
using Channel = Pastry.Messaging.Channel;
using Fixture = Pastry.Tests.Otp.MessageDirectorLinkTests.Fixture;
using Recorder = Pastry.Tests.Otp.StateServerTests.Recorder;

namespace Pastry.Tests.Otp;

/// <summary>
/// The Message Director link as a trust boundary (ARCHITECTURE 4), over real loopback sockets: the handshake (version,
/// secret proven by HMAC), the per-link bounds and what a participant that is not privileged may send.
/// </summary>
[TestClass]
public sealed class MessageDirectorLinkAuthenticationTests
{
    private const string Secret = "the shared link secret";
    private static readonly TimeSpan Timeout = TestWaits.Cap(TimeSpan.FromSeconds(10));

    [TestMethod]
    public async Task WithASecret_TheRightOneConnects_AWrongOrMissingOneIsRefused361()
    {
        var options = new MessageDirectorOptions { Port = 0, Secret = Secret };
        await using var fixture = await Fixture.StartAsync(options, new MessageDirectorCredentials(Secret));
        int port = fixture.Server.LocalEndPoint!.Port;

        var wrong = await Assert.ThrowsExactlyAsync<MessageDirectorRefusedException>(() => RemoteMessageRouter.ConnectAsync("127.0.0.1", port, new MessageDirectorCredentials("not the shared link secret")));
        Assert.AreEqual(EjectCode.LinkAuthenticationFailed, wrong.Code);
        StringAssert.Contains(wrong.Reason, "wrong secret");
        var missing = await Assert.ThrowsExactlyAsync<MessageDirectorRefusedException>(() => RemoteMessageRouter.ConnectAsync("127.0.0.1", port));
        Assert.AreEqual(EjectCode.LinkAuthenticationFailed, missing.Code);
        StringAssert.Contains(missing.Reason, "MessageDirector:Secret");
        var privileged = await Assert.ThrowsExactlyAsync<MessageDirectorRefusedException>(() => RemoteMessageRouter.ConnectAsync("127.0.0.1", port, new MessageDirectorCredentials(Secret, Privileged: true)));
        StringAssert.Contains(privileged.Reason, "grants no privileged links");
        Assert.AreEqual(3, fixture.Server.RefusedLinks, "Counted before the refusal is sent, so exact here.");
        Assert.IsFalse(fixture.Link.Closed.IsCompleted, "The authenticated link is untouched.");
    }

    [TestMethod]
    public async Task ALinkWithASecret_RefusesAMessageDirectorThatCannotProveIt()
    {
        await using var fixture = await Fixture.StartAsync(new MessageDirectorOptions { Port = 0 }, MessageDirectorCredentials.None);

        var refused = await Assert.ThrowsExactlyAsync<MessageDirectorRefusedException>(() => RemoteMessageRouter.ConnectAsync("127.0.0.1", fixture.Server.LocalEndPoint!.Port, new MessageDirectorCredentials(Secret)));

        StringAssert.Contains(refused.Reason, "did not prove the secret");
    }

    [TestMethod]
    public async Task AnotherProtocolVersion_OrNoHandshakeAtAll_IsRefused360_AndNothingIsRouted()
    {
        await using var fixture = await Fixture.StartAsync(new MessageDirectorOptions { Port = 0 }, MessageDirectorCredentials.None);
        var local = new Recorder();
        var target = Channel.ForParticipant(DoId.NewId());
        fixture.Router.Subscribe(local, target);

        using (var old = await RawLinkAsync(fixture))
        {
            await LinkHandshake.WriteFrameAsync(old, InternalMessageType.LinkAuthenticate, w =>
            {
                w.WriteUInt16(99);
                w.WriteBool(false);
                w.WriteRaw(new byte[LinkHandshake.NonceSize]);
                w.WriteBytes(ReadOnlySpan<byte>.Empty);
            }, CancellationToken.None);
            var (code, reason) = await ReadRefusalAsync(old);
            Assert.AreEqual(EjectCode.LinkVersionMismatch, code);
            StringAssert.Contains(reason, "link protocol 99");
        }

        using (var rude = await RawLinkAsync(fixture))
        {
            // An envelope before the handshake: refused, and never routed.
            await WriteEnvelopeAsync(rude, MessageDirectorLinkTests.Message(5), target);
            var (code, reason) = await ReadRefusalAsync(rude);
            Assert.AreEqual(EjectCode.LinkVersionMismatch, code);
            StringAssert.Contains(reason, "not the handshake");
        }

        Assert.IsFalse(local.TryNext(out _), "Nothing sent before a successful handshake is routed.");
    }

    [TestMethod]
    public async Task ALinkThatNeverAuthenticates_IsDropped364_AtTheHandshakeDeadline()
    {
        await using var fixture = await Fixture.StartAsync(new MessageDirectorOptions { Port = 0, HandshakeTimeout = TimeSpan.FromMilliseconds(300) }, MessageDirectorCredentials.None);
        using var idle = await RawLinkAsync(fixture);

        var (code, reason) = await ReadRefusalAsync(idle);

        Assert.AreEqual(EjectCode.LinkHandshakeTimeout, code);
        StringAssert.Contains(reason, "MessageDirector:HandshakeTimeout");
    }

    [TestMethod]
    public async Task AFrameLargerThanMaxFrameBytes_IsRefused395_BeforeItIsBuffered_AndTheLinkDropped()
    {
        await using var fixture = await Fixture.StartAsync(new MessageDirectorOptions { Port = 0, MaxFrameBytes = 64 * 1024 }, MessageDirectorCredentials.None);
        using var link = await RawLinkAsync(fixture);
        await LinkHandshake.WriteFrameAsync(link, InternalMessageType.LinkAuthenticate, w =>
        {
            w.WriteUInt16(LinkHandshake.ProtocolVersion);
            w.WriteBool(false);
            w.WriteRaw(new byte[LinkHandshake.NonceSize]);
            w.WriteBytes(ReadOnlySpan<byte>.Empty);
        }, CancellationToken.None);
        using (var cancel = new CancellationTokenSource(Timeout))
        {
            Assert.AreEqual(InternalMessageType.LinkWelcome, (await LinkHandshake.ReadFrameAsync(link, cancel.Token)).Type);
        }

        // Only the header of a 1 GiB frame: the MD must refuse on the declared length, not wait for (or buffer) the body.
        var header = new byte[Frame.HeaderSize];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header, 1 << 30);
        await link.WriteAsync(header);

        var (code, reason) = await ReadRefusalAsync(link);
        Assert.AreEqual(EjectCode.LinkFrameTooLarge, code);
        StringAssert.Contains(reason, "1073741824 bytes, more than MessageDirector:MaxFrameBytes (65536)");
        using var cancelRead = new CancellationTokenSource(Timeout);
        Assert.AreEqual(0, await link.ReadAsync(new byte[1], cancelRead.Token), "The MD closes the link after the refusal.");
    }

    [TestMethod]
    public async Task AnAi_DropsTheLink395_WhenTheMessageDirectorSendsAFrameOverItsLimit_BeforeBufferingIt()
    {
        // A stand-in Message Director on a real socket: it completes the handshake, then sends the header of a 1 GiB frame.
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var director = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            using var stream = new NetworkStream(socket);
            using var cancel = new CancellationTokenSource(Timeout);
            await LinkHandshake.WriteFrameAsync(stream, InternalMessageType.LinkChallenge, w =>
            {
                w.WriteUInt16(LinkHandshake.ProtocolVersion);
                w.WriteRaw(new byte[LinkHandshake.NonceSize]);
            }, cancel.Token);
            Assert.AreEqual(InternalMessageType.LinkAuthenticate, (await LinkHandshake.ReadFrameAsync(stream, cancel.Token)).Type);
            await LinkHandshake.WriteFrameAsync(stream, InternalMessageType.LinkWelcome, w =>
            {
                w.WriteUInt16(LinkHandshake.ProtocolVersion);
                w.WriteBool(false);
                w.WriteBytes(ReadOnlySpan<byte>.Empty);
            }, cancel.Token);
            var header = new byte[Frame.HeaderSize];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header, 1 << 30);
            await stream.WriteAsync(header, cancel.Token);

            // Held open: the AI must drop the link on the declared length alone.
            try
            {
                await stream.ReadExactlyAsync(new byte[1], cancel.Token);
            }
            catch (Exception ex) when (ex is IOException or EndOfStreamException)
            {
            }
        });

        var link = await RemoteMessageRouter.ConnectAsync("127.0.0.1", ((System.Net.IPEndPoint)listener.LocalEndpoint).Port, MessageDirectorCredentials.None, maxFrameBytes: 1024 * 1024);
        await link.Closed.WaitAsync(Timeout);
        await link.DisposeAsync();

        Assert.AreEqual(EjectCode.LinkFrameTooLarge, link.Refusal?.Code);
        StringAssert.Contains(link.Refusal!.Reason, "1073741824 bytes, more than this AI accepts (Ai:MaxFrameBytes, 1048576)");
        await director.WaitAsync(Timeout);
    }

    [TestMethod]
    public void TheSecret_IsRequired_OffLoopback_AndMustNotBeShort()
    {
        var open = Assert.ThrowsExactly<ArgumentException>(() => new MessageDirectorOptions { Host = "0.0.0.0" }.Validate());
        StringAssert.Contains(open.Message, "MessageDirector:Secret is required");
        var weak = Assert.ThrowsExactly<ArgumentException>(() => new MessageDirectorOptions { Secret = "short" }.Validate());
        StringAssert.Contains(weak.Message, "MessageDirector:Secret must be at least 16 characters");
        new MessageDirectorOptions { Host = "0.0.0.0", Secret = Secret }.Validate();
        new MessageDirectorOptions { Host = "localhost" }.Validate();
    }

    [TestMethod]
    public async Task PostRemoves_AreBoundedInCount_362_AndRunThenFreedWhenTheLinkCloses()
    {
        var options = new MessageDirectorOptions { Port = 0, MaxPostRemovesPerLink = 5 };
        await using var fixture = await Fixture.StartAsync(options, MessageDirectorCredentials.None);
        var (me, diagnostics) = Participant(fixture);
        var stateServer = new Recorder();
        fixture.Router.Subscribe(stateServer, Channel.StateServer);
        for (int i = 0; i < 5; i++)
        {
            fixture.Link.AddPostRemove(InternalMessages.DeleteAiObjects(me), Channel.StateServer);
        }

        await SyncAsync(fixture, me, diagnostics);
        Assert.AreEqual(5, fixture.Server.PostRemoveCount);
        Assert.AreEqual(1, fixture.Server.SubscriptionCount, "its own channel");

        fixture.Link.AddPostRemove(InternalMessages.DeleteAiObjects(me), Channel.StateServer);

        await fixture.Link.Closed.WaitAsync(Timeout);
        Assert.AreEqual(EjectCode.LinkLimitExceeded, fixture.Link.Refusal?.Code);
        StringAssert.Contains(fixture.Link.Refusal!.Reason, "MessageDirector:MaxPostRemovesPerLink");
        var routed = new List<InternalMessageType>();
        while (routed.Count(t => t == InternalMessageType.DeleteAiObjects) < 5 || !routed.Contains(InternalMessageType.LinkParticipantReleased))
        {
            routed.Add((await stateServer.NextAsync()).Type);
        }

        Assert.AreEqual(InternalMessageType.LinkParticipantReleased, routed[^1], "The claim ends after the post-removes ran, so they are checked as the link's.");
        Assert.AreEqual(0, fixture.Server.PostRemoveCount, "Post-removes are dropped once they ran.");
        Assert.AreEqual(0, fixture.Server.PostRemoveBytes);
        Assert.AreEqual(0, fixture.Server.SubscriptionCount);
    }

    [TestMethod]
    public async Task PostRemoves_AreBoundedInBytes_362()
    {
        var options = new MessageDirectorOptions { Port = 0, MaxPostRemoveBytesPerLink = 64 * 1024 };
        await using var fixture = await Fixture.StartAsync(options, MessageDirectorCredentials.None);
        var (me, diagnostics) = Participant(fixture);
        var big = new Envelope(InternalMessageType.CallMethod, me, DoId.NewId(), new byte[20_000]);
        for (int i = 0; i < 3; i++)
        {
            fixture.Link.AddPostRemove(big, Channel.StateServer);
        }

        await SyncAsync(fixture, me, diagnostics);
        Assert.AreEqual(3, fixture.Server.PostRemoveCount);
        fixture.Link.AddPostRemove(big, Channel.StateServer);

        await fixture.Link.Closed.WaitAsync(Timeout);
        Assert.AreEqual(EjectCode.LinkLimitExceeded, fixture.Link.Refusal?.Code);
        StringAssert.Contains(fixture.Link.Refusal!.Reason, "MessageDirector:MaxPostRemoveBytesPerLink");
    }

    [TestMethod]
    public async Task Subscriptions_AreBounded_362()
    {
        await using var fixture = await Fixture.StartAsync(new MessageDirectorOptions { Port = 0, MaxChannelsPerLink = 3, MaxRangesPerLink = 1 }, MessageDirectorCredentials.None);
        var remote = new Recorder();
        fixture.Link.SubscribeRange(remote, DoId.NewId(), 1, 2);
        for (int i = 0; i < 4; i++)
        {
            fixture.Link.Subscribe(remote, Channel.ForLocation(DoId.NewId(), 1));
        }

        await fixture.Link.Closed.WaitAsync(Timeout);
        Assert.AreEqual(EjectCode.LinkLimitExceeded, fixture.Link.Refusal?.Code);
        StringAssert.Contains(fixture.Link.Refusal!.Reason, "MessageDirector:MaxChannelsPerLink");
    }

    [TestMethod]
    [DataRow("another sender")]
    [DataRow("a relay type")]
    [DataRow("a client target")]
    [DataRow("the MD's own notice")]
    [DataRow("another link's channel")]
    [DataRow("listening to a session")]
    [DataRow("listening to the State Server")]
    public async Task AParticipant_MayNotSpeakAsAnother_NorSendWhatOnlyTheServerSends_363(string forgery)
    {
        await using var fixture = await Fixture.StartAsync(new MessageDirectorOptions { Port = 0 }, MessageDirectorCredentials.None);
        var (me, _) = Participant(fixture);
        var stateServer = new Recorder();
        fixture.Router.Subscribe(stateServer, Channel.StateServer);
        var session = Channel.ForSession(DoId.NewId());
        fixture.Router.Subscribe(new Recorder(), session);
        await using var other = await RemoteMessageRouter.ConnectAsync("127.0.0.1", fixture.Server.LocalEndPoint!.Port);
        var theirs = Channel.ForParticipant(DoId.NewId());
        other.Subscribe(new Recorder(), theirs);
        await other.FlushAsync();
        var subject = DoId.NewId();

        switch (forgery)
        {
            case "another sender":
                fixture.Link.Publish(new Envelope(InternalMessageType.SetField, theirs, subject, new byte[] { 0, 0, 1 }), Channel.StateServer);
                break;
            case "a relay type":
                fixture.Link.Publish(new Envelope(InternalMessageType.ClientSetField, me, subject, new byte[20]), Channel.StateServer);
                break;
            case "a client target":
                fixture.Link.Publish(new Envelope(InternalMessageType.SetField, me, subject, new byte[3]), session);
                break;
            case "the MD's own notice":
                fixture.Link.Publish(new Envelope(InternalMessageType.LinkParticipantReleased, me, DoId.Empty, new byte[Channel.EncodedSize]), Channel.StateServer);
                break;
            case "listening to a session":
                fixture.Link.Subscribe(new Recorder(), session);
                break;
            case "listening to the State Server":
                fixture.Link.Subscribe(new Recorder(), Channel.StateServer);
                break;
            default:
                fixture.Link.Subscribe(new Recorder(), theirs);
                break;
        }

        await fixture.Link.Closed.WaitAsync(Timeout);
        Assert.AreEqual(EjectCode.LinkForbidden, fixture.Link.Refusal?.Code, forgery);
        Assert.IsFalse(other.Closed.IsCompleted, "The other link is untouched.");
        while (stateServer.TryNext(out var routed))
        {
            Assert.IsTrue(routed!.Type is InternalMessageType.LinkParticipantRestricted or InternalMessageType.LinkParticipantReleased, $"{routed} was routed");
        }
    }

    [TestMethod]
    public async Task AParticipant_CannotClaimAChannelOfThisProcess()
    {
        await using var fixture = await Fixture.StartAsync(new MessageDirectorOptions { Port = 0 }, MessageDirectorCredentials.None);
        var embeddedAi = Channel.ForParticipant(DoId.NewId());
        fixture.Router.Subscribe(new Recorder(), embeddedAi);

        fixture.Link.Subscribe(new Recorder(), embeddedAi);

        await fixture.Link.Closed.WaitAsync(Timeout);
        Assert.AreEqual(EjectCode.LinkForbidden, fixture.Link.Refusal?.Code);
        StringAssert.Contains(fixture.Link.Refusal!.Reason, "already belongs");
    }

    /// <summary>Gives the fixture's link a participant channel of its own and a diagnostics listener to sync with.</summary>
    private static (Channel Me, Recorder Diagnostics) Participant(Fixture fixture)
    {
        var me = Channel.ForParticipant(DoId.NewId());
        fixture.Link.Subscribe(new Recorder(), me);
        var diagnostics = new Recorder();
        fixture.Router.Subscribe(diagnostics, Channel.Diagnostics);
        return (me, diagnostics);
    }

    /// <summary>Waits until the MD handled everything the participant sent: a request it may send, seen by the in-process diagnostics listener.</summary>
    private static async Task SyncAsync(Fixture fixture, Channel me, Recorder diagnostics)
    {
        fixture.Link.Publish(InternalMessages.MemoryQuery(false, me), Channel.Diagnostics);
        Assert.AreEqual(InternalMessageType.MemoryQuery, (await diagnostics.NextAsync()).Type);
    }

    /// <summary>A socket to the fixture's MD that has read the challenge and not answered it.</summary>
    private static async Task<NetworkStream> RawLinkAsync(Fixture fixture)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", fixture.Server.LocalEndPoint!.Port);
        var stream = new NetworkStream(socket, ownsSocket: true);
        using var cancel = new CancellationTokenSource(Timeout);
        var (type, payload) = await LinkHandshake.ReadFrameAsync(stream, cancel.Token);
        Assert.AreEqual(InternalMessageType.LinkChallenge, type);
        Assert.AreEqual(2 + LinkHandshake.NonceSize, payload.Length);
        return stream;
    }

    private static async Task<(EjectCode Code, string Reason)> ReadRefusalAsync(NetworkStream stream)
    {
        using var cancel = new CancellationTokenSource(Timeout);
        var (type, payload) = await LinkHandshake.ReadFrameAsync(stream, cancel.Token);
        Assert.AreEqual(InternalMessageType.LinkRefused, type);
        var reader = new WireReader(payload);
        var code = (EjectCode)reader.ReadUInt16();
        return (code, reader.ReadString());
    }

    private static async Task WriteEnvelopeAsync(NetworkStream stream, Envelope envelope, Channel target)
    {
        using var writer = new PooledBufferWriter();
        int start = writer.BeginFrameRaw();
        envelope.Write(writer, new[] { target });
        writer.EndFrame(start);
        await stream.WriteAsync(writer.WrittenMemory);
    }
}
