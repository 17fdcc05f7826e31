using System.Globalization;
using Pastry.Messaging;

namespace Pastry.Ai;

/// <summary>
/// A district an AI serves: the zones <see cref="FirstZone"/> to <see cref="LastZone"/> (inclusive) under
/// <see cref="Parent"/>. When several AIs share one world, an object that moves into a district is handed over to the
/// AI that serves it (see <see cref="AiRepository.Serve"/>). In configuration (<c>Ai:Districts</c>) one entry is
/// <c>parent:zones</c>, where zones is a comma-separated list of <c>N</c>, <c>N-M</c> or <c>*</c> (every zone), for
/// example <c>00000000-0000-0000-0000-0000000d1577:51-100</c>.
/// </summary>
/// <param name="Parent">The parent object (<see cref="DoId.Empty"/> for the root).</param>
/// <param name="FirstZone">The first zone of the range.</param>
/// <param name="LastZone">The last zone of the range (at least <paramref name="FirstZone"/>).</param>
public readonly record struct AiDistrict(DoId Parent, uint FirstZone, uint LastZone)
{
    /// <summary>Whether <c>(parent, zone)</c> lies in this district.</summary>
    public bool Contains(DoId parent, uint zone) => parent == Parent && zone >= FirstZone && zone <= LastZone;

    /// <inheritdoc />
    public override string ToString() => FirstZone == LastZone
        ? string.Create(CultureInfo.InvariantCulture, $"{Parent}:{FirstZone}")
        : string.Create(CultureInfo.InvariantCulture, $"{Parent}:{FirstZone}-{LastZone}");

    /// <summary>
    /// Reads one configuration entry, <c>parent:zones</c> (zones: <c>N</c>, <c>N-M</c> or <c>*</c>, comma-separated), as
    /// one district per zone range.
    /// </summary>
    /// <exception cref="FormatException">The entry is not of that form; the message says what is wrong and shows an example.</exception>
    public static IReadOnlyList<AiDistrict> Parse(string entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        const string Example = "for example 00000000-0000-0000-0000-0000000d1577:1-50,1000";
        int colon = entry.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !DoId.TryParse(entry.AsSpan(0, colon).Trim().ToString(), out var parent))
        {
            throw new FormatException($"'{entry}' is not parent:zones with a parent DoId ({Example}).");
        }

        var districts = new List<AiDistrict>();
        foreach (var part in entry.Substring(colon + 1).Split(',', StringSplitOptions.TrimEntries))
        {
            if (part == "*")
            {
                districts.Add(new AiDistrict(parent, 0, uint.MaxValue));
                continue;
            }

            int dash = part.IndexOf('-', StringComparison.Ordinal);
            string first = dash < 0 ? part : part.Substring(0, dash).Trim();
            string last = dash < 0 ? part : part.Substring(dash + 1).Trim();
            if (!uint.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out uint from)
                || !uint.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out uint to) || to < from)
            {
                throw new FormatException($"'{part}' in '{entry}' is not a zone, a zone range low-high or * ({Example}).");
            }

            districts.Add(new AiDistrict(parent, from, to));
        }

        return districts;
    }
}

/// <summary>An object this AI handed over to another AI (see <see cref="AiRepository.HandedOver"/>).</summary>
/// <param name="Object">The object: readable in the handler, disabled in this AI right after it (touching it then throws).</param>
/// <param name="To">The AI that handles it now.</param>
public readonly record struct AiHandover(DistributedObject Object, Channel To);
