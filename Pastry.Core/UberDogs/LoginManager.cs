using System.ComponentModel.DataAnnotations;

namespace Pastry;

/// <summary>
/// The login UberDOG: a stateless global object at a well-known DoId, hosted by the OTP process and callable
/// without interest. Anonymous sessions may call only its <c>[Anonymous]</c> methods; a successful
/// <see cref="Login"/> makes the session established with its account id. The server answers with
/// <see cref="CreateAccountResult"/> and <see cref="LoginResult"/>.
/// </summary>
public sealed class LoginManager : DistributedObject<LoginManager>
{
    /// <summary>The well-known DoId of the login UberDOG.</summary>
    public static readonly DoId WellKnownId = new(0, 0x1001);

    /// <summary>
    /// The longest username the protocol carries. Checked by the Client Agent before any work (a longer one is ejected
    /// with 127), so that a hostile client cannot make the server look up, hash or log a 64 KB name.
    /// </summary>
    public const int MaxUsernameLength = 64;

    /// <summary>The longest password the protocol carries; like <see cref="MaxUsernameLength"/>, checked before any hashing.</summary>
    public const int MaxPasswordLength = 256;

    /// <summary>Creates an account (client → server).</summary>
    [Distributed, ClSend, Anonymous]
    public void CreateAccount([MaxLength(MaxUsernameLength)] string username, [MaxLength(MaxPasswordLength)] string password)
    {
    }

    /// <summary>Logs in (client → server).</summary>
    [Distributed, ClSend, Anonymous]
    public void Login([MaxLength(MaxUsernameLength)] string username, [MaxLength(MaxPasswordLength)] string password)
    {
    }

    /// <summary>The answer to <see cref="CreateAccount"/> (server → client). <paramref name="status"/> is 0 on success.</summary>
    [Distributed, Ai]
    public void CreateAccountResult(int status, DoId accountId, string message)
    {
    }

    /// <summary>The answer to <see cref="Login"/> (server → client). <paramref name="status"/> is 0 on success.</summary>
    [Distributed, Ai]
    public void LoginResult(int status, DoId accountId, string message)
    {
    }
}
