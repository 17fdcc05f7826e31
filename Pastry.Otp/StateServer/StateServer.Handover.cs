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

    /// <summary>After a move: when another AI serves the object's new location, the object is handed over to it.</summary>
    private void HandOverToDistrictAi(StateObject obj, Envelope cause)
    {
        if (districts.Count == 0 || !districts.TryGetValue(obj.Location.Parent, out var list))
        {
            return;
        }

        uint zone = obj.Location.Zone;
        foreach (var district in list)
        {
            if (zone >= district.First && zone <= district.Last)
            {
                if (district.Ai != obj.Ai)
                {
                    HandOver(obj, district.Ai, cause);
                }

                return;
            }
        }
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
