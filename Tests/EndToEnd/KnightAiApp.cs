using Pastry.Ai;

namespace Pastry.Tests.EndToEnd;

/// <summary>
/// The AI application the end-to-end tests run in <c>pastry serve --role ai|all --app Tests.dll</c>: a realm with a
/// 10x10 grid of zones (zone = 1 + y*10 + x), two knights, avatars on request (dismissed when their owner's session
/// closes), echoes, moves and dismissals.
/// </summary>
public sealed class KnightAiApp : IAiApplication
{
    public static readonly DoId RealmId = DoId.Parse("00000000-0000-0000-0000-00000000c0de");

    public static readonly ZoneGrid Grid = new(10, 10);

    /// <summary>
    /// The environment variable that gives the AI a second root, the outpost (a realm with this DoId), with the knight
    /// Tristan in its zone (0, 0): a test with several OTP nodes picks an id the placement puts on another node than the realm.
    /// </summary>
    public const string OutpostVariable = "KNIGHT_OUTPOST";

    public Task StartAsync(AiRepository ai, CancellationToken cancellation)
    {
        // After an AI restart the realm is still there (taken back from the AI before): spawn it only the first time.
        if (!ai.Objects.OfType<Realm>().Any())
        {
            ai.Create(new Realm { DoId = RealmId, Title = "Camelot" }, DoId.Empty, 0);
            ai.Create(new Knight { Name = "Lancelot", X = 5 }, RealmId, Grid.ZoneOf(0, 0));
            ai.Create(new Knight { Name = "Gawain", X = 25 }, RealmId, Grid.ZoneOf(2, 0));
            if (DoId.TryParse(Environment.GetEnvironmentVariable(OutpostVariable), out var outpost))
            {
                ai.Create(new Realm { DoId = outpost, Title = "Outpost" }, DoId.Empty, 0);
                ai.Create(new Knight { Name = "Tristan", X = 5 }, outpost, Grid.ZoneOf(0, 0));
            }
        }

        ai.Of<Realm>().Calls.Subscribe(call =>
        {
            switch (call.Method.Name)
            {
                case nameof(Realm.Summon):
                    ai.Create(new Knight { Name = (string)call.Arguments[0]!, X = 5, Mood = 1 }, RealmId, Grid.ZoneOf(0, 0), owner: call.Sender);
                    break;
                case nameof(Realm.Dismiss):
                    var knight = ai.Objects.FirstOrDefault(o => o.DoId == (DoId)call.Arguments[0]!);
                    if (knight is not null)
                    {
                        ai.Delete(knight);
                    }

                    break;
            }
        });

        // A player who leaves takes the knights they summoned with them (also when their OTP node dies: the other
        // nodes say their session closed).
        ai.SessionsClosed.Subscribe(account =>
        {
            foreach (var summoned in ai.Objects.OfType<Knight>().Where(k => k.Owner == account).ToList())
            {
                ai.Delete(summoned);
            }
        });

        // RPC round trip: a wave is answered with a broadcast shout.
        ai.Of<Knight>().Calls.Subscribe(call => ai.Call((Knight)call.Target, k => k.Shout("echo " + (string)call.Arguments[0]!)));

        // A knight walks along the x axis: its zone follows X (ten units per cell).
        ai.Of<Knight>().Updated.Subscribe(change =>
        {
            if (change.Origin == ChangeOrigin.Remote && change.Field.Name == nameof(Knight.X))
            {
                var knight = (Knight)change.Target;
                ai.Move(knight, RealmId, Grid.ZoneOf(Math.Min(knight.X / 10, Grid.Width - 1), 0));
            }
        });
        return Task.CompletedTask;
    }
}
