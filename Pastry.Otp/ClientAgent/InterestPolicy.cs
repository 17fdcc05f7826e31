namespace Pastry.Otp.ClientAgent;

/// <summary>
/// Decides which parents and zones a session may open interest in; a refused interest ejects with 115. The app sets
/// one by registering it in the host's services (<c>services.AddSingleton&lt;IInterestPolicy&gt;(...)</c> beside
/// <c>AddPastryOtp</c>) or by passing it to <see cref="OtpServer"/>. The default is <see cref="VisibleParentsInterestPolicy"/>.
/// </summary>
public interface IInterestPolicy
{
    /// <summary>Whether the session may open <paramref name="request"/>; called before any work, under the session's lock, so keep it quick.</summary>
    InterestVerdict Decide(InterestRequest request);
}

/// <summary>A policy's answer to an AddInterest.</summary>
public enum InterestVerdict
{
    /// <summary>The interest is opened.</summary>
    Allowed,

    /// <summary>The session is ejected with 115 (forbidden interest).</summary>
    Refused,

    /// <summary>
    /// Allowed only when the parent is public: the root (<see cref="DoId.Empty"/>) or an object that sits at the root.
    /// The State Server, which knows every object's location, decides; a parent that is neither (or does not exist)
    /// ejects with 115 before any object of it is sent.
    /// </summary>
    AllowedIfPublic,
}

/// <summary>What a session asks for, with what it can see, for an <see cref="IInterestPolicy"/>.</summary>
public readonly struct InterestRequest
{
    private readonly IInterestView view;

    internal InterestRequest(DoId account, DoId parent, IReadOnlyList<uint> zones, IInterestView view)
    {
        Account = account;
        Parent = parent;
        Zones = zones;
        this.view = view;
    }

    /// <summary>The session's account.</summary>
    public DoId Account { get; }

    /// <summary>The parent whose zones it asks for.</summary>
    public DoId Parent { get; }

    /// <summary>The zones it asks for.</summary>
    public IReadOnlyList<uint> Zones { get; }

    /// <summary>Whether the object <paramref name="id"/> is in the session's view now (through an interest, or owned).</summary>
    public bool IsInView(DoId id) => view.IsInView(id);

    /// <summary>Whether an object the session owns sits under <paramref name="parent"/> (in any of its zones).</summary>
    public bool OwnsObjectUnder(DoId parent) => view.OwnsObjectUnder(parent);
}

/// <summary>What a session sees, as <see cref="InterestRequest"/> asks it.</summary>
internal interface IInterestView
{
    bool IsInView(DoId id);

    bool OwnsObjectUnder(DoId parent);
}

/// <summary>
/// The default policy: a session may open interest only under a parent it can see. That is an object in its view
/// (opened through another interest, or one it owns), the parent of an object it owns (its avatar's district), a
/// parent the app declares public, or a public parent: the root and the objects at the root (a game's districts or
/// shards, its entry points). Anything else, including a parent whose id a client learnt elsewhere, ejects with 115.
/// </summary>
public sealed class VisibleParentsInterestPolicy : IInterestPolicy
{
    private readonly HashSet<DoId> publicParents;

    /// <summary>Creates the policy; <paramref name="publicParents"/> are parents any logged-in session may open (for example a lobby that is not at the root).</summary>
    public VisibleParentsInterestPolicy(IEnumerable<DoId>? publicParents = null)
    {
        this.publicParents = new HashSet<DoId>(publicParents ?? Array.Empty<DoId>());
    }

    /// <inheritdoc />
    public InterestVerdict Decide(InterestRequest request) =>
        request.Parent.IsEmpty || publicParents.Contains(request.Parent) || request.IsInView(request.Parent) || request.OwnsObjectUnder(request.Parent)
            ? InterestVerdict.Allowed
            : InterestVerdict.AllowedIfPublic;
}

/// <summary>A policy that lets any logged-in session open any zone of any parent (a trusted network or a test).</summary>
public sealed class AllowAllInterestPolicy : IInterestPolicy
{
    /// <inheritdoc />
    public InterestVerdict Decide(InterestRequest request) => InterestVerdict.Allowed;
}
