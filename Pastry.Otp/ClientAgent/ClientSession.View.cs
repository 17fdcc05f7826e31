using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.StateServer;
using Pastry.Wire;

namespace Pastry.Otp.ClientAgent;

// What the session sees: interest syncs, routed object messages, and which of them reach the client.
internal sealed partial class ClientSession
{
    private void OnQueryEntry(Envelope envelope)
    {
        uint query = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        if (!pendingQueries.ContainsKey(query) && query != ownedQuery)
        {
            return;
        }

        var entry = ObjectEntry.Parse(envelope.Payload, 4);
        if (!visible.ContainsKey(envelope.Subject) && Sees(entry.Location, entry.Owner))
        {
            Enter(envelope.Subject, entry);
            enteredDuringSync[envelope.Subject] = queuedDuringSync.Count;
        }
    }

    /// <summary>
    /// Whether the message being replayed about <paramref name="id"/> is older than the object's entry: it reached this
    /// session before the entry did, and the State Server sends in its own order, so the entry already holds that change.
    /// Replaying it would show the client an older value after a newer one.
    /// </summary>
    private bool Superseded(DoId id) => replayIndex >= 0 && enteredDuringSync.TryGetValue(id, out int enteredAt) && replayIndex < enteredAt;

    private void OnQueryDone(Envelope envelope)
    {
        uint query = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(envelope.Payload.Span);
        if (query != 0 && query == ownedQuery)
        {
            // The objects the account owns are in view (a second login sees its avatar at once); no InterestDone.
            ownedQuery = 0;
            ReplayIfSynced();
            return;
        }

        if (!pendingQueries.Remove(query, out uint context))
        {
            return;
        }

        if (envelope.Payload.Length > 4 && envelope.Payload.Span[4] == 1)
        {
            // The State Server refused a parent the policy left to it (InterestVerdict.AllowedIfPublic); nothing of it was sent.
            Eject(EjectCode.ForbiddenInterest, $"interest {context} is under a parent this session cannot see: open it through an object in view, the parent of an object it owns, or a public parent (the root or an object at the root)");
            return;
        }

        if (!SnapshotQueryDone(query) && interests.Contains(context))
        {
            scratch.Reset();
            ClientFrames.WriteContext(scratch, MessageType.InterestDone, context);
            if (!Append(scratch.WrittenSpan))
            {
                return;
            }
        }

        ReplayIfSynced();
    }

    /// <summary>Whether a query (an interest sync or the owned objects at login) is waiting for its done: updates queue meanwhile.</summary>
    private bool Syncing => pendingQueries.Count > 0 || ownedQuery != 0;

    /// <summary>Replays the updates queued during the syncs once the last one is done (ARCHITECTURE 4).</summary>
    private void ReplayIfSynced()
    {
        if (!Syncing)
        {
            queuedBytes = 0;
            replayIndex = 0;
            while (queuedDuringSync.Count > 0 && stage != SessionStage.Closed)
            {
                var queued = queuedDuringSync.Dequeue();
                if (queued.Type == InternalMessageType.RelayBroadcastBatch || !Superseded(queued.Subject))
                {
                    Process(queued);
                }

                replayIndex++;
            }

            replayIndex = -1;
            enteredDuringSync.Clear();
        }
    }

    /// <summary>Asks the State Server for every object the account owns (at login; see <see cref="InternalMessageType.QueryOwned"/>).</summary>
    private void QueryOwnedObjects()
    {
        ownedQuery = ++nextQuery;
        scratch.Reset();
        scratch.WriteUInt32(ownedQuery);
        scratch.WriteDoId(account);
        agent.Router.Publish(new Envelope(InternalMessageType.QueryOwned, Channel, DoId.Empty, scratch.WrittenSpan.ToArray()), Messaging.Channel.StateServer);
    }

    private void Process(Envelope envelope)
    {
        switch (envelope.Type)
        {
            case InternalMessageType.EnterLocation:
                {
                    var entry = ObjectEntry.Parse(envelope.Payload);
                    if (!visible.ContainsKey(envelope.Subject) && Sees(entry.Location, entry.Owner))
                    {
                        Enter(envelope.Subject, entry);
                    }

                    break;
                }

            case InternalMessageType.ChangingLocation:
                {
                    var entry = ObjectEntry.Parse(envelope.Payload, DoId.Size + 4);
                    bool seesNew = Sees(entry.Location, entry.Owner);
                    if (visible.TryGetValue(envelope.Subject, out var known))
                    {
                        if (seesNew)
                        {
                            visible[envelope.Subject] = known with { Location = entry.Location };
                            scratch.Reset();
                            ClientFrames.WriteLocation(scratch, envelope.Subject, entry.Location.Parent, entry.Location.Zone);
                            Append(scratch.WrittenSpan);
                        }
                        else
                        {
                            Forget(envelope.Subject);
                            scratch.Reset();
                            ClientFrames.WriteLeaveObject(scratch, envelope.Subject, LeaveReason.Disabled);
                            Append(scratch.WrittenSpan);
                        }
                    }
                    else if (seesNew)
                    {
                        Enter(envelope.Subject, entry);
                    }

                    break;
                }

            case InternalMessageType.RelayBroadcast:
                // No echo: the sender already applied its own change (ARCHITECTURE 2). What this account owns comes
                // through the account (RelayPrivate) instead, wherever it is.
                if (envelope.Sender != Channel && TakesFromLocation(envelope.Subject))
                {
                    AppendObjectFrames(envelope.Payload.Span);
                }

                break;
            case InternalMessageType.RelayPrivate:
                if (envelope.Sender != Channel && visible.ContainsKey(envelope.Subject))
                {
                    AppendObjectFrames(envelope.Payload.Span);
                }

                break;
            case InternalMessageType.RelayBroadcastBatch:
                if (envelope.Sender != Channel && RelayBatch.TryRead(envelope.Payload, out var relayed) && !TryAppendWholeBatch(relayed))
                {
                    AppendVisibleFrames(relayed.Frames.Span);
                }

                break;
            case InternalMessageType.ObjectDeleted:
                if (Forget(envelope.Subject))
                {
                    Append(envelope.Payload.Span);
                }

                break;
            case InternalMessageType.ChangingOwner:
                {
                    var entry = ObjectEntry.Parse(envelope.Payload);
                    if (!visible.TryGetValue(envelope.Subject, out var current))
                    {
                        // Gained an object outside this session's interest: the owner sees what it owns.
                        if (Sees(entry.Location, entry.Owner))
                        {
                            Enter(envelope.Subject, entry);
                        }
                    }
                    else if (Sees(current.Location, entry.Owner))
                    {
                        visible[envelope.Subject] = current with { Owner = entry.Owner };
                        AppendObjectFrames((IsOwner(entry.Owner) ? entry.OwnerFrame : entry.OtherFrame).Span);
                    }
                    else
                    {
                        // Lost an object it saw only as its owner.
                        Forget(envelope.Subject);
                        scratch.Reset();
                        ClientFrames.WriteLeaveObject(scratch, envelope.Subject, LeaveReason.Disabled);
                        Append(scratch.WrittenSpan);
                    }

                    break;
                }

            default:
                logger.LogDebug("{Session}: ignoring {Envelope}", Name, envelope);
                break;
        }
    }

    private void Enter(DoId id, ObjectEntry.Parsed entry)
    {
        if (!agent.Registry.TryGetModel(entry.ClassId, out var model))
        {
            logger.LogWarning("{Session}: object {DoId} has unknown class id {ClassId}; not sent", Name, id, entry.ClassId);
            return;
        }

        // A client on an earlier schema never sees an object of a class it does not know, nor anything about it later.
        if (schema is not null && !schema.Knows(model))
        {
            return;
        }

        visible[id] = new VisibleObject(id, model, entry.Location, entry.Owner);
        recentlyLeft?.Remove(id);
        AppendObjectFrames((IsOwner(entry.Owner) ? entry.OwnerFrame : entry.OtherFrame).Span);
    }

    /// <summary>
    /// Appends frames about objects in view (enter, set, call): as they are for a client on the current schema, else
    /// rewritten one by one into the session's earlier schema (<see cref="SessionSchema"/>).
    /// </summary>
    private bool AppendObjectFrames(ReadOnlySpan<byte> frames)
    {
        if (schema is null)
        {
            return Append(frames);
        }

        var rewritten = schemaScratch ??= new PooledBufferWriter(256);
        rewritten.Reset();
        int position = 0;
        while (position + Frame.HeaderSize + DoId.Size <= frames.Length)
        {
            int length = Frame.LengthSize + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(frames.Slice(position));
            var frame = frames.Slice(position, length);
            if (visible.TryGetValue(DoId.Read(frame.Slice(Frame.HeaderSize, DoId.Size)), out var seen))
            {
                schema.Rewrite(frame, seen.Model, rewritten);
            }

            position += length;
        }

        return rewritten.WrittenCount == 0 || Append(rewritten.WrittenSpan);
    }

    /// <summary>
    /// Sends a relay batch as the one block every session shares, when this session takes every frame of it: it sees
    /// every object at the location (as many as the census), none of the frames is about an owned object (the owner
    /// takes those from its account), its client speaks the current schema, and no sync replay is deciding frame by
    /// frame. Otherwise false, and the frames are filtered one by one.
    /// </summary>
    private bool TryAppendWholeBatch(in RelayBatch.Header relayed)
    {
        if (relayed.AboutOwned || schema is not null || replayIndex >= 0 || relayed.Frames.IsEmpty || visible.CountAt(relayed.Location) != relayed.Census)
        {
            return false;
        }

        AppendShared(relayed.Frames, relayed.FrameCount);
        return true;
    }

    /// <summary>
    /// Appends the frames of a relay batch that are about objects in view, in runs: a session that sees every object
    /// of the batch copies it in one append.
    /// </summary>
    private void AppendVisibleFrames(ReadOnlySpan<byte> frames)
    {
        int runStart = 0;
        int position = 0;
        while (position + Frame.HeaderSize + DoId.Size <= frames.Length)
        {
            int length = Frame.LengthSize + (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(frames.Slice(position));

            // Every relayed frame (SetField, SetFields, CallMethod) starts its payload with the object's DoId. What
            // this account owns comes through the account instead.
            if (!TakesFromLocation(DoId.Read(frames.Slice(position + Frame.HeaderSize, DoId.Size))))
            {
                if (position > runStart && !AppendObjectFrames(frames[runStart..position]))
                {
                    return;
                }

                runStart = position + length;
            }

            position += length;
        }

        if (position > runStart)
        {
            AppendObjectFrames(frames[runStart..position]);
        }
    }

    /// <summary>Takes <paramref name="id"/> out of the view and remembers that it left; false when it was not in view.</summary>
    private bool Forget(DoId id)
    {
        if (!visible.Remove(id))
        {
            return false;
        }

        (recentlyLeft ??= new RecentlyLeftObjects()).Add(id);
        return true;
    }

    /// <summary>
    /// A message about an object not in view: dropped when the object left the view lately (the client sent it before
    /// it read the Leave), ejected with 117 otherwise.
    /// </summary>
    private bool IgnoreOrEjectUnknown(DoId id, string what)
    {
        if (recentlyLeft?.Contains(id) == true)
        {
            logger.LogDebug("{Session}: dropped {What} on {DoId}, which left this session's view lately", Name, what, id);
            return true;
        }

        return Eject(EjectCode.UnknownObject, $"object {id} is not in this session's view", id);
    }

    /// <summary>Whether an object at <paramref name="location"/> owned by <paramref name="owner"/> is in this session's view: in its interest, or its own.</summary>
    private bool Sees(Location location, DoId owner) => interests.Sees(location) || IsOwner(owner);

    /// <summary>Whether this session relays a location's update of <paramref name="id"/>: it sees it, and does not own it (those come through the account).</summary>
    private bool TakesFromLocation(DoId id) => visible.TryGetValue(id, out var seen) && !IsOwner(seen.Owner) && !Superseded(id);

    private bool IsOwner(DoId owner) => !account.IsEmpty && owner == account;

    /// <inheritdoc />
    bool IInterestView.IsInView(DoId id) => visible.ContainsKey(id);

    /// <inheritdoc />
    bool IInterestView.OwnsObjectUnder(DoId parent)
    {
        foreach (var seen in visible.Values)
        {
            if (seen.Location.Parent == parent && IsOwner(seen.Owner))
            {
                return true;
            }
        }

        return false;
    }
}
