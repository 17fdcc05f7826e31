namespace Pastry.Hosting;

/// <summary>
/// One check behind the admin endpoint's <c>/readyz</c>. Any service registered as one in the host's container
/// (for example the AI's link to the Message Director) is asked whenever readiness is read.
/// </summary>
public interface IReadinessCheck
{
    /// <summary>The check's name, as <c>/readyz</c> lists it.</summary>
    string Name { get; }

    /// <summary>Null when ready; otherwise what is not ready yet, in words an operator can act on.</summary>
    string? Problem();
}
