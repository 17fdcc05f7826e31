using Pastry.Ai;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The AI application of the move-between-nodes tests (<c>--Ai:Application TravelAiApp</c>): a lobby realm at the root,
/// and, when a client calls <c>Summon("realms")</c> on it, <see cref="RealmCount"/> more realms at the root, so that with
/// two OTP nodes each holds some of them (the test asks once the AI has heard both nodes; at its start it may know only
/// the first). A client's <c>Summon(name)</c> on a realm creates a knight of that name owned by the caller at zone 1 of
/// the realm, with a squire beneath it (at zone 1 of the knight), or moves the knight of that name there when it exists.
/// A wave at a knight earns it a gold coin and a shout.
/// </summary>
public sealed class TravelAiApp : IAiApplication
{
    /// <summary>How many realms (roots) the AI creates.</summary>
    public const int RealmCount = 16;

    /// <summary>The id of realm <paramref name="index"/>.</summary>
    public static DoId RealmId(int index) => DoId.Parse($"00000000-0000-0000-0000-0000000a{index:x4}");

    /// <summary>The lobby realm, created at start.</summary>
    public static readonly DoId LobbyId = DoId.Parse("00000000-0000-0000-0000-0000000affff");

    public Task StartAsync(AiRepository ai, CancellationToken cancellation)
    {
        if (!ai.Objects.OfType<Realm>().Any())
        {
            ai.Create(new Realm { DoId = LobbyId, Title = "Lobby" }, DoId.Empty, 0);
        }

        ai.Of<Realm>().Calls.Subscribe(call =>
        {
            if (call.Method.Name != nameof(Realm.Summon))
            {
                return;
            }

            string name = (string)call.Arguments[0]!;
            if (name == "realms")
            {
                for (int i = 0; i < RealmCount; i++)
                {
                    if (!ai.Objects.Any(o => o.DoId == RealmId(i)))
                    {
                        ai.Create(new Realm { DoId = RealmId(i), Title = $"Realm {i}" }, DoId.Empty, 0);
                    }
                }

                return;
            }

            var knight = ai.Objects.OfType<Knight>().FirstOrDefault(k => k.Name == name);
            if (knight is null)
            {
                knight = ai.Create(new Knight { Name = name, X = 5, Mood = 1 }, call.Target.DoId, 1, owner: call.Sender);
                ai.Create(new Knight { Name = "Squire", X = 1 }, knight.DoId, 1);
            }
            else
            {
                ai.Move(knight, call.Target.DoId, 1);
            }
        });

        ai.Of<Knight>().Calls.Subscribe(call =>
        {
            var knight = (Knight)call.Target;
            knight.Gold += 1;
            ai.Call(knight, k => k.Shout("echo " + (string)call.Arguments[0]!));
        });
        return Task.CompletedTask;
    }
}
