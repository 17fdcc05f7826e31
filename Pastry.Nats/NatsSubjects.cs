using System.Collections.Concurrent;
using System.Globalization;
using Pastry.Messaging;

namespace Pastry.Nats;

/// <summary>
/// The subject scheme of the NATS backplane: one subject per Message Director channel, under a prefix
/// (<c>Nats:SubjectPrefix</c>, <c>pastry</c> below). DoIds are written as 32 hex digits.
/// <list type="table">
/// <item><term><c>pastry.r.&lt;n&gt;</c></term><description>a server role (n = its number: 1 State Server, 2 Database, ...)</description></item>
/// <item><term><c>pastry.o.&lt;doid&gt;</c></term><description>an object</description></item>
/// <item><term><c>pastry.l.&lt;parent&gt;.&lt;shard&gt;.&lt;zone&gt;</c></term><description>a location; shard = zone / 256</description></item>
/// <item><term><c>pastry.s.&lt;doid&gt;</c>, <c>pastry.a.&lt;doid&gt;</c>, <c>pastry.p.&lt;doid&gt;</c></term><description>a session, an account, a participant (an AI)</description></item>
/// <item><term><c>pastry.nodes</c></term><description>heartbeats and post-remove registrations of every process but keepers (keepers listen)</description></item>
/// <item><term><c>pastry.k</c></term><description>heartbeats and goodbyes of OTP processes (keepers); every process listens</description></item>
/// <item><term><c>pastry.n.&lt;node&gt;</c></term><description>one process, for what a keeper tells it</description></item>
/// <item><term><c>pastry.h.&lt;doid&gt;</c></term><description>the holder of an object: the OTP node whose State Server holds it (placement)</description></item>
/// <item><term><c>pastry.pl.&lt;node&gt;</c></term><description>one OTP node's State Server and Database role: root objects placed on it (placement)</description></item>
/// </list>
/// A zone range <c>[low, high]</c> under a parent becomes one wildcard per shard it touches
/// (<c>pastry.l.&lt;parent&gt;.&lt;shard&gt;.*</c>), or, past <see cref="MaxShardWildcards"/> shards, one wildcard for the
/// whole parent (<c>pastry.l.&lt;parent&gt;.&gt;</c>); the receiver filters the exact range. So a grid AI that owns a block
/// of cells hears only its shards' traffic, and a range of the whole uint space costs one subscription, not 2^32.
/// </summary>
internal sealed class NatsSubjects
{
    /// <summary>Zones per location shard (a power of two): one wildcard covers this many consecutive zones.</summary>
    public const int ZonesPerShard = 256;

    /// <summary>The most shard wildcards one range takes before it uses the parent's wildcard instead.</summary>
    public const int MaxShardWildcards = 16;

    /// <summary>Subjects cached per channel; past this the cache starts again (subject strings are rebuilt, never unbounded).</summary>
    private const int MaxCached = 65536;

    private readonly string prefix;
    private readonly ConcurrentDictionary<Channel, string> cache = new();

    /// <summary>Creates the scheme for one prefix.</summary>
    public NatsSubjects(string prefix)
    {
        this.prefix = prefix;
        Nodes = prefix + ".nodes";
        Keepers = prefix + ".k";
    }

    /// <summary>The subject OTP processes (keepers) send their heartbeats and goodbyes to; every process listens, to know whether an OTP is there.</summary>
    public string Keepers { get; }

    /// <summary>The subject every process sends heartbeats and post-remove registrations to.</summary>
    public string Nodes { get; }

    /// <summary>The holder subject of an object: the OTP node whose State Server holds it subscribes it.</summary>
    public string Holder(DoId id) => $"{prefix}.h.{Hex(id)}";

    /// <summary>The placement subject of an OTP node: root objects the mapping gives it, and requests that follow them.</summary>
    public string Placed(DoId node) => $"{prefix}.pl.{Hex(node)}";

    /// <summary>The subject of one process (node).</summary>
    public string Node(DoId node) => $"{prefix}.n.{Hex(node)}";

    /// <summary>The subject of <paramref name="channel"/>, from the cache when it is there (no allocation per message).</summary>
    public string Of(Channel channel)
    {
        if (cache.TryGetValue(channel, out var subject))
        {
            return subject;
        }

        subject = Build(channel);
        if (cache.Count >= MaxCached)
        {
            cache.Clear();
        }

        cache[channel] = subject;
        return subject;
    }

    /// <summary>The wildcard subject of one shard of <paramref name="parent"/>'s locations, or of all of them when <paramref name="shard"/> is null.</summary>
    public string LocationWildcard(DoId parent, uint? shard) =>
        shard is { } s ? $"{prefix}.l.{Hex(parent)}.{s.ToString(CultureInfo.InvariantCulture)}.*" : $"{prefix}.l.{Hex(parent)}.>";

    /// <summary>The shard of a zone.</summary>
    public static uint ShardOf(uint zone) => zone / ZonesPerShard;

    /// <summary>
    /// The zone in the last token of a location subject (<c>...&lt;shard&gt;.&lt;zone&gt;</c>), parsed without allocating;
    /// false when the subject does not end in a number.
    /// </summary>
    public static bool TryParseZone(string subject, out uint zone)
    {
        int dot = subject.LastIndexOf('.');
        return uint.TryParse(subject.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out zone);
    }

    private string Build(Channel channel) => channel.Kind switch
    {
        ChannelKind.Role => $"{prefix}.r.{channel.Id.Low.ToString(CultureInfo.InvariantCulture)}",
        ChannelKind.Object => $"{prefix}.o.{Hex(channel.Id)}",
        ChannelKind.Location => $"{prefix}.l.{Hex(channel.Id)}.{ShardOf(channel.Zone).ToString(CultureInfo.InvariantCulture)}.{channel.Zone.ToString(CultureInfo.InvariantCulture)}",
        ChannelKind.Session => $"{prefix}.s.{Hex(channel.Id)}",
        ChannelKind.Account => $"{prefix}.a.{Hex(channel.Id)}",
        ChannelKind.Participant => $"{prefix}.p.{Hex(channel.Id)}",
        _ => throw new ArgumentException($"{channel} has no subject: only roles, objects, locations, sessions, accounts and participants are routed.", nameof(channel)),
    };

    private static string Hex(DoId id) => string.Create(32, id, static (span, value) =>
    {
        value.High.TryFormat(span, out _, "x16", CultureInfo.InvariantCulture);
        value.Low.TryFormat(span[16..], out _, "x16", CultureInfo.InvariantCulture);
    });
}
