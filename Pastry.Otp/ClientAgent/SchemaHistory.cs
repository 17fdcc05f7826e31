namespace Pastry.Otp.ClientAgent;

/// <summary>
/// The schema versions a Client Agent accepts at hello besides the current one: every version in the schema lock's
/// history (embedded in the game's model assembly) that the current models are compatible with, each served through
/// its <see cref="SessionSchema"/>; and, for a version that is not compatible, the first breaking change, which the
/// eject (125) names.
/// </summary>
internal sealed class SchemaHistory
{
    private readonly Dictionary<ulong, (SessionSchema? View, SchemaChange? Breaking)> versions = new();

    /// <summary>No history: only the current schema is accepted (no lock, or models from several locked assemblies).</summary>
    public static SchemaHistory None { get; } = new();

    /// <summary>How many earlier versions are served.</summary>
    public int Compatible => versions.Values.Count(v => v.View is not null);

    /// <summary>The history of the lock embedded in the assembly of <paramref name="registry"/>'s game models.</summary>
    public static SchemaHistory For(ModelRegistry registry)
    {
        var locks = registry.Models.Select(m => m.ClrType.Assembly).Distinct().Select(SchemaLock.ForAssembly).OfType<SchemaLock>().ToList();
        if (locks.Count != 1)
        {
            return None;
        }

        var embedded = locks[0];
        var current = SchemaLock.Update(registry, embedded);
        var history = new SchemaHistory();
        var earlier = new List<LockedVersion>(embedded.History);

        // Models changed since the lock was written: the locked version itself is an earlier one too.
        if (embedded.Hash != registry.SchemaHashText)
        {
            earlier.Add(new LockedVersion { Hash = embedded.Hash, Classes = embedded.Classes.Where(c => !c.Removed).ToList() });
        }

        foreach (var version in earlier)
        {
            if (!ulong.TryParse(version.Hash, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out ulong hash) || hash == registry.SchemaHash)
            {
                continue;
            }

            var changes = SchemaCompatibility.Compare(new SchemaLock { Hash = version.Hash, Classes = version.Classes }, current);
            var breaking = changes.FirstOrDefault(c => c.IsBreaking);
            history.versions[hash] = (breaking is null ? SessionSchema.For(version, registry) : null, breaking);
        }

        return history;
    }

    /// <summary>Finds an earlier version by hash: its view when compatible, else the first breaking change.</summary>
    public bool TryGet(ulong hash, out SessionSchema? view, out SchemaChange? breaking)
    {
        bool found = versions.TryGetValue(hash, out var entry);
        (view, breaking) = entry;
        return found;
    }
}
