using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

// Several AIs in one world (issue 14 item 4): each AI says which districts (ranges of zones under a parent) it serves,
// and an object that moves into a district another AI serves is handed over to that AI, one object at a time, in the
// same step as the move. Viewers see only the move (a Location, or the leave/enter their interest implies): which AI
// handles an object is never sent to clients. From that step on, client sets and RPCs of the object go to the new AI;
// the old AI hears ReleasedAiObject (after everything the State Server sent it before), the new one AdoptedAiObject.
// Sets of the object from the old AI that cross the release are refused, so that the State Server's copy and the new
// AI's stay equal (an RPC call from it is still relayed: its answer to a client call that reached it before).
// The bulk take-over of a dead or replaced AI's objects is the other mechanism (StateServer.AiRestart.cs).
internal sealed partial class StateServer
{
    /// <summary>The most district ranges one AI may name: the list is scanned on every move under their parent.</summary>
    internal const int MaxDistrictsPerAi = 256;

    /// <summary>The served districts by parent: each a zone range and the AI that serves it (a short list per parent).</summary>
    private readonly Dictionary<DoId, List<District>> districts = new();

    /// <summary>The AIs that said which districts they serve and whose post-remove has not run: the ones that can adopt.</summary>
    private readonly HashSet<Messaging.Channel> districtAis = new();

    /// <summary>
    /// The AI each handed-over object had before its last handover, while it is not that AI's again: its late sets
    /// are refused. Bounded by the objects (removed when the object is deleted).
    /// </summary>
    private readonly Dictionary<DoId, Messaging.Channel> releasedBy = new();

    /// <summary>How many district ranges are served now (for tests and diagnostics; read on the State Server's task).</summary>
    internal int DistrictCount => districts.Values.Sum(list => list.Count);

    /// <summary><see cref="InternalMessageType.ServeDistricts"/>: replaces the districts the AI serves.</summary>
    private void ServeDistricts(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var ai = Messaging.Channel.Read(ref reader);
        int count = reader.ReadUInt16();
        if (!MayActAs(envelope, ai))
        {
            return;
        }

        if (count > MaxDistrictsPerAi)
        {
            Refuse(envelope, $"serve districts: {count} ranges is more than {MaxDistrictsPerAi}; name fewer, wider ranges");
            return;
        }

        var served = new List<District>(count);
        for (int i = 0; i < count; i++)
        {
            var parent = reader.ReadDoId();
            uint first = reader.ReadUInt32();
            uint last = reader.ReadUInt32();
            if (last < first)
            {
                Refuse(envelope, $"serve districts: zone range {first}-{last} under {parent} ends before it starts");
                return;
            }

            served.Add(new District(parent, first, last, ai));
        }

        reader.EnsureAtEnd();
        ForgetDistricts(ai);
        foreach (var district in served)
        {
            var list = DistrictsUnder(district.Parent);

            // The newest word wins: an AI started to serve a district takes it from the one that served it (an AI
            // restarted with the same districts comes back before the old link's post-remove, or the operator moved it).
            for (int i = list.Count - 1; i >= 0; i--)
            {
                var other = list[i];
                if (other.Ai != ai && other.First <= district.Last && district.First <= other.Last)
                {
                    logger.LogWarning("AI {Ai} now serves zones {First}-{Last} under {Parent}, which AI {Other} served ({OtherFirst}-{OtherLast}); the overlap is {Ai}'s from now on", ai, district.First, district.Last, district.Parent, other.Ai, other.First, other.Last, ai);
                    list.RemoveAt(i);
                    if (other.First < district.First)
                    {
                        list.Add(other with { Last = district.First - 1 });
                    }

                    if (other.Last > district.Last)
                    {
                        list.Add(other with { First = district.Last + 1 });
                    }
                }
            }

            list.Add(district);
        }

        if (served.Count > 0)
        {
            districtAis.Add(ai);
        }

        logger.LogInformation("AI {Ai} serves {Count} district(s): {Districts}", ai, served.Count, string.Join(", ", served.Select(d => $"{d.Parent}:{d.First}-{d.Last}")));
    }

    /// <summary>The districts under <paramref name="parent"/>, made when first needed.</summary>
    private List<District> DistrictsUnder(DoId parent)
    {
        if (!districts.TryGetValue(parent, out var list))
        {
            districts[parent] = list = new List<District>();
        }

        return list;
    }

    /// <summary>The AI's post-remove ran (or it named its districts again): it serves nothing and can adopt nothing now.</summary>
    private void ForgetDistricts(Messaging.Channel ai)
    {
        if (districtAis.Count == 0 && districts.Count == 0)
        {
            return;
        }

        districtAis.Remove(ai);
        foreach (var (parent, list) in districts.ToList())
        {
            list.RemoveAll(d => d.Ai == ai);
            if (list.Count == 0)
            {
                districts.Remove(parent);
            }
        }
    }

    /// <summary>
    /// After a move, a create or an activation: when another AI serves the object's location, the object is handed over
    /// to it (an object made inside another AI's district is that AI's at once, as if it had walked in).
    /// </summary>
    private void HandOverToDistrictAi(StateObject obj, Envelope cause)
    {
        if (DistrictAiAt(obj.Location) is { } ai && ai != obj.Ai)
        {
            HandOver(obj, ai, cause);
        }
    }

    /// <summary>The AI that serves <paramref name="location"/> as one of its districts, or null (no district covers it).</summary>
    private Messaging.Channel? DistrictAiAt(Location location)
    {
        if (districts.Count == 0 || !districts.TryGetValue(location.Parent, out var list))
        {
            return null;
        }

        foreach (var district in list)
        {
            if (location.Zone >= district.First && location.Zone <= district.Last)
            {
                return district.Ai;
            }
        }

        return null;
    }

    /// <summary>
    /// An AI activates an object that is already live with another AI (a player who logs in again while their avatar is
    /// still in the world, on another AI's streets), at a place the requesting AI serves: the object moves there and is
    /// handed over to it, as a walk into its district would (viewers see a move; the live values are kept, the request's
    /// values are not applied), and the activation is answered with the live values. Both AIs must serve districts (the
    /// same trust as a walk-in) and the owner must be the same. False: not such a case (the caller answers "already active").
    /// </summary>
    private bool TryActivateLive(Envelope request, StateObject live, ModelInfo model, uint context, Messaging.Channel ai, Location location, DoId owner)
    {
        if (live.Ai == ai || live.Model != model || live.Owner != owner || !districtAis.Contains(ai) || !districtAis.Contains(live.Ai)
            || DistrictAiAt(location) != ai || heldFor.ContainsKey(live.Ai) || (!location.Parent.IsEmpty && !graph.Contains(location.Parent)))
        {
            return false;
        }

        // Taking a live object from another AI is a claim: only within one application (its district AIs), whatever the
        // link's secret, so that another game's AI cannot take this one's objects by naming a district.
        string application = ApplicationOf(ai);
        string holder = ApplicationOf(live.Ai);
        if (DistrictBase(application) != DistrictBase(holder))
        {
            string reason = $"activate {model.Name} {live.Id}: it is live with AI {live.Ai} of application '{holder}', and AI {ai} of application '{application}' may not take it (another application's object); it stays where it is";
            logger.LogWarning("State Server refused ActivateObject from {Sender}: {Reason}", request.Sender, reason);
            ReplyActivation(request.Sender, live.Id, context, DatabaseStatus.AlreadyExists, reason);
            return true;
        }

        var from = live.Ai;
        if (!MoveObject(live, location.Parent, location.Zone, request))
        {
            return false;
        }

        logger.LogInformation("AI {Ai} activated {Model} {DoId}, which AI {From} had live in the world: it moved to {Location} and is {Ai}'s now (live values kept)", ai, model.Name, live.Id, from, live.Location, ai);
        ReplyActivation(request.Sender, live.Id, context, DatabaseStatus.Ok, string.Empty, live);
        return true;
    }

    /// <summary>The application a running AI named when it claimed (AiOptions.Application), or empty (it named none).</summary>
    private string ApplicationOf(Messaging.Channel ai)
    {
        foreach (var (name, application) in applications)
        {
            if (application.Live.Contains(ai))
            {
                return name;
            }
        }

        return string.Empty;
    }

    /// <summary>A rolling upgrade of a district AI: the new AI serves the old one's districts from the switch on.</summary>
    private void MoveDistricts(Messaging.Channel from, Messaging.Channel to)
    {
        if (!districtAis.Remove(from))
        {
            return;
        }

        int moved = 0;
        foreach (var list in districts.Values)
        {
            for (int i = 0; i < list.Count; i++)
            {
                if (list[i].Ai == from)
                {
                    list[i] = list[i] with { Ai = to };
                    moved++;
                }
            }
        }

        districtAis.Add(to);
        logger.LogInformation("AI {To} serves the {Count} district range(s) of {From}, which it took over", to, moved, from);
    }

    /// <summary><see cref="InternalMessageType.HandOverObject"/>: an AI hands one of its objects to another AI by name.</summary>
    private void HandOverObject(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        var to = Messaging.Channel.Read(ref reader);
        reader.EnsureAtEnd();
        if (!TryGetObject(envelope.Subject, out var obj))
        {
            Refuse(envelope, $"hand over: no object {envelope.Subject}");
            return;
        }

        if (!MayChange(envelope, obj) || obj.Ai == to)
        {
            return;
        }

        HandOver(obj, to, envelope);
    }

    /// <summary>
    /// Makes <paramref name="to"/> the object's AI, in this one step: the new AI gets the object's entry (every value
    /// kept here, Db fields too when stored), the old one its release. An AI that never said which districts it serves
    /// (or whose link dropped) cannot adopt: the object stays with its AI, and the refusal is logged.
    /// </summary>
    private void HandOver(StateObject obj, Messaging.Channel to, Envelope cause)
    {
        var from = obj.Ai;
        if (to.Kind != ChannelKind.Participant || !districtAis.Contains(to))
        {
            Refuse(cause, $"hand over {obj.Model.Name} {obj.Id} to {to}: that AI is not connected (it has not said which districts it serves, or its link dropped); the object stays with {from}");
            return;
        }

        obj.Ai = to;
        releasedBy[obj.Id] = from;
        scratch.Reset();
        scratch.WriteUInt32(0);
        scratch.WriteByte(obj.DbBacked ? (byte)1 : (byte)0);
        ObjectEntry.Write(scratch, obj);
        Publish(new Envelope(InternalMessageType.AdoptedAiObject, Messaging.Channel.StateServer, obj.Id, scratch.WrittenSpan.ToArray()), to);
        scratch.Reset();
        to.Write(scratch);
        Publish(new Envelope(InternalMessageType.ReleasedAiObject, Messaging.Channel.StateServer, obj.Id, scratch.WrittenSpan.ToArray()), from);
        logger.LogInformation("Handed {Model} {DoId} at {Location} over from AI {From} to AI {To}", obj.Model.Name, obj.Id, obj.Location, from, to);
    }

    /// <summary>
    /// Whether <paramref name="sender"/> is the AI that handed <paramref name="obj"/> over and has not got it back: its
    /// sets crossed the release and are refused, whatever its link's rights.
    /// </summary>
    private bool WasReleasedBy(StateObject obj, Messaging.Channel sender) =>
        releasedBy.Count > 0 && obj.Ai != sender && releasedBy.TryGetValue(obj.Id, out var previous) && previous == sender;

    /// <summary>The object is gone: nothing to remember about who had it.</summary>
    private void ForgetHandover(DoId id)
    {
        if (releasedBy.Count > 0)
        {
            releasedBy.Remove(id);
        }
    }

    /// <summary>One served district: zones <c>First..Last</c> under <c>Parent</c>, served by <c>Ai</c>.</summary>
    private readonly record struct District(DoId Parent, uint First, uint Last, Messaging.Channel Ai);
}
