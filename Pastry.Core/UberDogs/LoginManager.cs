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

    /// <summary>Creates an account (client → server).</summary>
    [Distributed, ClSend, Anonymous]
    public void CreateAccount(string username, string password)
    {
    }

    /// <summary>Logs in (client → server).</summary>
    [Distributed, ClSend, Anonymous]
    public void Login(string username, string password)
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
