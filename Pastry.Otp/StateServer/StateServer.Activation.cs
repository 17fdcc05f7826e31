using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Otp.StateServer;

// Activation: loading a stored object from the Database role into RAM, and answering whoever asked.
internal sealed partial class StateServer
{
    private readonly Dictionary<uint, PendingActivation> activations = new();
    private readonly HashSet<DoId> activating = new();
    private uint nextActivation;

    private void Activate(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        uint context = reader.ReadUInt32();
        uint classId = reader.ReadUInt32();
        var parent = reader.ReadDoId();
        uint zone = reader.ReadUInt32();
        var owner = reader.ReadDoId();
        var ai = Messaging.Channel.Read(ref reader);
        if (ai != envelope.Sender && IsRestricted(envelope.Sender))
        {
            ReplyActivation(envelope.Sender, envelope.Subject, context, DatabaseStatus.Invalid, $"activate {envelope.Subject}: {envelope.Sender} is a participant link and may activate objects only as their AI");
            return;
        }

        if (!registry.TryGetModel(classId, out var model) || !model.HasDbFields)
        {
            ReplyActivation(envelope.Sender, envelope.Subject, context, DatabaseStatus.Invalid, $"activate {envelope.Subject}: class id {classId} is unknown or has no Db fields");
            return;
        }

        int count = reader.ReadUInt16();
        Span<(int Field, int Start, int Length)> parsed = count <= 32 ? stackalloc (int, int, int)[count] : new (int, int, int)[count];
        ReadFields(ref reader, model, parsed);
        reader.EnsureAtEnd();
        foreach (var (index, _, _) in parsed)
        {
            var field = model.Fields[index];
            if (field.IsDb || !field.IsStored)
            {
                ReplyActivation(envelope.Sender, envelope.Subject, context, DatabaseStatus.Invalid, $"activate {model.Name} {envelope.Subject}: {field.Name} is {(field.IsDb ? "a Db field, loaded from the database" : "not stored")}; give only Required or Ram fields that are not Db");
                return;
            }
        }

        if (TryGetObject(envelope.Subject, out var live) && TryActivateLive(envelope, live, model, context, ai, new Location(parent, zone), owner))
        {
            return;
        }

        string? problem = !databaseEnabled ? "the Database role is off (Database:Path is empty)"
            : envelope.Subject.IsEmpty ? "the DoId is empty"
            : graph.Contains(envelope.Subject) || activating.Contains(envelope.Subject) ? "it is already active"
            : !parent.IsEmpty && !graph.Contains(parent) ? $"parent {parent} does not exist"
            : null;
        if (problem is not null)
        {
            var status = problem == "it is already active" ? DatabaseStatus.AlreadyExists : DatabaseStatus.Invalid;
            ReplyActivation(envelope.Sender, envelope.Subject, context, status, $"activate {model.Name} {envelope.Subject}: {problem}");
            return;
        }

        uint request = ++nextActivation;
        // The object waits here with the values of the request; the database's values join them when they arrive.
        var obj = new StateObject(envelope.Subject, LayoutOf(model, dbBacked: true), ai) { Owner = owner };
        obj.SetValues(envelope.Payload.Span, parsed);
        activations[request] = new PendingActivation(envelope.Sender, context, new Location(parent, zone), obj);
        activating.Add(envelope.Subject);

        // Held from the request on, so that the database's answer, and requests about it, find this node.
        placement?.Hold(envelope.Subject);
        Publish(DatabaseMessages.GetAll(request, model, envelope.Subject, Messaging.Channel.StateServer), Messaging.Channel.Database);
    }

    private void FinishActivation(Envelope envelope)
    {
        var reader = new WireReader(envelope.Payload.Span);
        uint request = reader.ReadUInt32();
        if (TryEndMoveBarrier(request))
        {
            return;
        }

        if (!activations.Remove(request, out var pending))
        {
            logger.LogWarning("State Server got a {Type} for no pending activation ({Request})", envelope.Type, request);
            return;
        }

        var obj = pending.Object;
        activating.Remove(obj.Id);

        var status = (DatabaseStatus)reader.ReadByte();
        string reason = reader.ReadString();
        string what = $"activate {obj.Model.Name} {obj.Id}";
        if (status != DatabaseStatus.Ok)
        {
            ReplyActivation(pending.Requester, obj.Id, pending.Context, status, $"{what}: {reason}");
            return;
        }

        int count = reader.ReadUInt16();
        Span<(int Field, int Start, int Length)> parsed = count <= 32 ? stackalloc (int, int, int)[count] : new (int, int, int)[count];
        ReadFields(ref reader, obj.Model, parsed);
        reader.EnsureAtEnd();
        obj.SetValues(envelope.Payload.Span, parsed);
        string? problem = MissingRequired(obj) is string missing ? $"missing Required field(s) {missing} (give the ones that are not Db in the request)"
            : graph.Contains(obj.Id) ? "it was created meanwhile"
            : !pending.Location.Parent.IsEmpty && !graph.Contains(pending.Location.Parent) ? $"parent {pending.Location.Parent} was deleted meanwhile"
            : movingOut.Count > 0 && movingOut.ContainsKey(pending.Location.Parent) ? $"parent {pending.Location.Parent} is moving to another OTP node; activate it again"
            : null;
        if (problem is not null)
        {
            ReplyActivation(pending.Requester, obj.Id, pending.Context, DatabaseStatus.Invalid, $"{what}: {problem}");
            return;
        }

        graph.Place(obj, pending.Location.Parent, pending.Location.Zone);
        logger.LogDebug("Activated {Model} {DoId} at {Location} for {Ai}", obj.Model.Name, obj.Id, obj.Location, obj.Ai);
        PublishToLocationAndOwner(new Envelope(InternalMessageType.EnterLocation, Messaging.Channel.StateServer, obj.Id, EntryOf(obj)), obj, DoId.Empty);
        ReplyActivation(pending.Requester, obj.Id, pending.Context, DatabaseStatus.Ok, string.Empty, obj);

        // Activated inside a district another AI serves: after the answer (the requester has the object first), it is
        // handed to that AI at once, as if it had walked in (StateServer.Handover.cs).
        HandOverToDistrictAi(obj, envelope);
    }

    private void ReplyActivation(Messaging.Channel target, DoId id, uint context, DatabaseStatus status, string reason, StateObject? obj = null)
    {
        if (status != DatabaseStatus.Ok && !graph.Contains(id) && !activating.Contains(id))
        {
            // A failed activation leaves nothing held on this node (see IPlacementRouter).
            placement?.Release(id);
        }

        if (status == DatabaseStatus.NotFound)
        {
            // An ordinary answer: "is this stored?" (ActivateAsync returns null), as on a player's first login.
            logger.LogDebug("ActivateObject from {Sender}: {Reason}", target, reason);
        }
        else if (status != DatabaseStatus.Ok)
        {
            logger.LogWarning("State Server refused ActivateObject from {Sender}: {Reason}", target, reason);
        }

        if (target.Kind is ChannelKind.None or ChannelKind.Location)
        {
            return;
        }

        scratch.Reset();
        scratch.WriteUInt32(context);
        scratch.WriteByte((byte)status);
        scratch.WriteString(reason);
        if (obj is not null)
        {
            WriteStoredValues(obj);
        }

        Publish(new Envelope(InternalMessageType.ActivateObjectResp, Messaging.Channel.StateServer, id, scratch.WrittenSpan.ToArray()), target);
    }

    /// <summary>Appends to <see cref="scratch"/> every value <paramref name="obj"/> keeps: <c>count: uint16, (wireId: uint16, value)*</c>.</summary>
    private void WriteStoredValues(StateObject obj)
    {
        int count = 0;
        foreach (var field in obj.Layout.Fields)
        {
            count += obj.HasValue(field.Index) ? 1 : 0;
        }

        scratch.WriteUInt16((ushort)count);
        foreach (var field in obj.Layout.Fields)
        {
            var value = obj.Value(field.Index);
            if (!value.IsEmpty)
            {
                scratch.WriteUInt16(field.WireId);
                scratch.WriteRaw(value);
            }
        }
    }

    /// <summary>An activation waiting for the Database role's answer.</summary>
    private sealed record PendingActivation(Messaging.Channel Requester, uint Context, Location Location, StateObject Object);
}
