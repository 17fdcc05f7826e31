using Microsoft.Extensions.Logging;
using Pastry.Otp.ClientAgent;

namespace Pastry.Otp.UberDogs;

/// <summary>
/// Hosts the UberDOGs: stateless global objects at well-known DoIds that clients call without interest
/// (ARCHITECTURE 4). The login UberDOG checks accounts and makes sessions established.
/// </summary>
internal sealed class UberDogHost
{
    private readonly Dictionary<DoId, ModelInfo> models = new();
    private readonly AccountService accounts;
    private readonly ILogger logger;
    private readonly MethodDescriptor createAccountResult;
    private readonly MethodDescriptor loginResult;
    private readonly OtpMetrics? metrics;

    /// <summary>Creates the host with the login UberDOG backed by <paramref name="accounts"/>.</summary>
    /// <param name="registry">The app's models.</param>
    /// <param name="accounts">The accounts behind the login UberDOG.</param>
    /// <param name="logger">Where logs go.</param>
    /// <param name="metrics">Where logins are counted; none when null.</param>
    public UberDogHost(ModelRegistry registry, AccountService accounts, ILogger logger, OtpMetrics? metrics = null)
    {
        this.metrics = metrics;
        this.accounts = accounts;
        this.logger = logger;
        var login = registry.GetModel<LoginManager>();
        models[LoginManager.WellKnownId] = login;
        createAccountResult = login.GetMethod(nameof(LoginManager.CreateAccountResult));
        loginResult = login.GetMethod(nameof(LoginManager.LoginResult));
    }

    /// <summary>Finds the UberDOG at <paramref name="id"/>.</summary>
    public bool TryGetModel(DoId id, out ModelInfo model) => models.TryGetValue(id, out model!);

    /// <summary>Runs a client's call on an UberDOG; its answer goes back to the session. Never throws.</summary>
    /// <remarks>
    /// Called under the session's lock. The call runs on the thread pool, never inline: a login hashes a password for
    /// tens of milliseconds at the default cost, which must not hold the session's receive loop and lock. One
    /// session's calls still run one after another, because the client matches answers to calls in order.
    /// </remarks>
    internal void Dispatch(ClientSession session, DoId id, MethodDescriptor method, object?[] arguments)
    {
        session.UberDogCalls = RunAfterAsync(session.UberDogCalls, session, id, method, arguments);
    }

    private async Task RunAfterAsync(Task previous, ClientSession session, DoId id, MethodDescriptor method, object?[] arguments)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.ForceYielding | ConfigureAwaitOptions.SuppressThrowing);
        try
        {
            // Work for a connection that has closed is dropped: nothing is looked up or hashed for a caller that has gone.
            if (session.Gone.IsCancellationRequested)
            {
                logger.LogDebug("{Session}: {Method} dropped, the caller has gone", session.Name, method);
                return;
            }

            switch (method.Name)
            {
                case nameof(LoginManager.CreateAccount):
                    {
                        var result = await accounts.CreateAccountAsync((string)arguments[0]!, (string)arguments[1]!, session.Gone).ConfigureAwait(false);
                        logger.LogInformation("{Session}: create account '{User}': {Status}", session.Name, Printable(arguments[0]), result.Status);
                        session.SendCall(id, createAccountResult, (int)result.Status, result.AccountId, result.Message);
                        break;
                    }

                case nameof(LoginManager.Login):
                    {
                        var result = session.IsEstablished
                            ? new AccountResult(AccountStatus.AlreadyLoggedIn, DoId.Empty, "This connection is already logged in; disconnect before logging in as another account.")
                            : await accounts.LoginAsync((string)arguments[0]!, (string)arguments[1]!, session.AddressKey?.ToString(), session.Gone).ConfigureAwait(false);

                        // One line per login (the session's own "logged in" line is Debug): at thousands of logins a
                        // second, every Info line is a measurable share of the login path.
                        logger.LogInformation("{Session}: login '{User}': {Status} (account {Account})", session.Name, Printable(arguments[0]), result.Status, result.AccountId);
                        metrics?.Login(result.Status switch { AccountStatus.Ok => "ok", AccountStatus.Throttled => "throttled", _ => "failed" });
                        if (result.Status == AccountStatus.Ok && !session.Establish(result.AccountId))
                        {
                            result = new AccountResult(AccountStatus.AlreadyLoggedIn, DoId.Empty, "This connection is already logged in; disconnect before logging in as another account.");
                        }

                        // The client sees one status for an unknown user and a wrong password (ClientStatus).
                        session.SendCall(id, loginResult, (int)result.ClientStatus, result.AccountId, result.Message);
                        break;
                    }

                default:
                    logger.LogWarning("{Session}: UberDOG method {Method} has no handler", session.Name, method);
                    break;
            }
        }
        catch (OperationCanceledException) when (session.Gone.IsCancellationRequested)
        {
            logger.LogDebug("{Session}: {Method} cancelled, the caller has gone", session.Name, method);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "{Session}: UberDOG call {Method} failed", session.Name, method);
        }
        finally
        {
            session.UberDogCallDone();
        }
    }

    /// <summary>
    /// A client's string as it may appear in a log line: control and format characters (newlines, bidi overrides)
    /// become '?', so that a name cannot forge or reorder log lines. Lengths are already bounded by the protocol.
    /// </summary>
    private static string Printable(object? value)
    {
        string text = value as string ?? string.Empty;
        return string.Create(text.Length, text, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
            {
                char c = source[i];
                var category = char.GetUnicodeCategory(c);
                span[i] = category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format ? '?' : c;
            }
        });
    }
}
