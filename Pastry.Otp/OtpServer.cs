using System.Net;
using Microsoft.Extensions.Logging;
using Pastry.Messaging;
using Pastry.Otp.ClientAgent;
using Pastry.Otp.Database;
using Pastry.Otp.Diagnostics;
using Pastry.Otp.MessageDirector;
using Pastry.Otp.StateServer;
using Pastry.Otp.UberDogs;

namespace Pastry.Otp;

/// <summary>All settings of the OTP roles, as bound from <c>pastry.json</c> (one section per role).</summary>
public sealed class OtpOptions
{
    /// <summary>The <c>MessageDirector</c> section.</summary>
    public MessageDirectorOptions MessageDirector { get; set; } = new();

    /// <summary>The <c>ClientAgent</c> section.</summary>
    public ClientAgentOptions ClientAgent { get; set; } = new();

    /// <summary>The <c>Accounts</c> section (login UberDOG).</summary>
    public AccountOptions Accounts { get; set; } = new();

    /// <summary>The <c>StateServer</c> section.</summary>
    public StateServerOptions StateServer { get; set; } = new();

    /// <summary>The <c>Database</c> section; an empty <see cref="DatabaseOptions.Path"/> keeps everything in memory.</summary>
    public DatabaseOptions Database { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        MessageDirector.Validate();
        ClientAgent.Validate();
        StateServer.Validate();
        Database.Validate();
        if (Database.MaxQueryAnswerBytes > MessageDirector.MaxFrameBytes - 1024)
        {
            // The answer travels in one Message Director frame, with its envelope (channels, DoId, context) around it.
            throw new ArgumentException($"Database:MaxQueryAnswerBytes ({Database.MaxQueryAnswerBytes}) must be at least 1024 below MessageDirector:MaxFrameBytes ({MessageDirector.MaxFrameBytes}), so that an answer fits in one frame.", "Database:MaxQueryAnswerBytes");
        }
    }
}

/// <summary>
/// One OTP process: Message Director (in-process router plus its TCP endpoint), State Server, Database (unless
/// <see cref="DatabaseOptions.Path"/> is empty), Client Agent and the UberDOGs, wired together (ARCHITECTURE 4). <c>pastry serve --role otp</c> runs one of these; tests may run one
/// in-process on OS-assigned loopback ports.
/// </summary>
public sealed class OtpServer : IAsyncDisposable
{
    private readonly IMessageRouter router;
    private readonly OtpMetrics metrics = new();
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly DatabaseAccountStore? ownedAccounts;
    private bool started;
    private int disposed;

    /// <summary>Creates the server. Nothing listens until <see cref="Start"/>.</summary>
    /// <param name="registry">The app's models.</param>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="loggerFactory">Where logs go.</param>
    /// <param name="time">The clock (tests inject one); defaults to the system clock.</param>
    /// <param name="accountStore">Where accounts live; defaults to the database's <c>pastry_accounts</c> table, or to memory when the Database role is off.</param>
    /// <param name="interestPolicy">Which zones sessions may open; defaults to <see cref="VisibleParentsInterestPolicy"/> (only under parents a session can see).</param>
    /// <param name="router">
    /// The Message Director's router: a backplane (the NATS one, <c>MessageDirector:Backplane = nats</c>) that other OTP
    /// and AI processes share; by default an <see cref="InProcessRouter"/> of this process alone.
    /// </param>
    /// <exception cref="DatabaseException">The database is missing, damaged or not migrated; the message says what to run.</exception>
    public OtpServer(ModelRegistry registry, OtpOptions options, ILoggerFactory loggerFactory, TimeProvider? time = null, IAccountStore? accountStore = null, IInterestPolicy? interestPolicy = null, IMessageRouter? router = null)
    {
        options.Validate();
        this.router = router ?? new InProcessRouter();
        Registry = registry;
        Options = options;
        this.loggerFactory = loggerFactory;
        logger = loggerFactory.CreateLogger("Pastry.Otp");
        time ??= TimeProvider.System;
        if (options.Database.Enabled)
        {
            Database = new DatabaseServer(this.router, registry, options.Database, loggerFactory.CreateLogger("Pastry.Otp.Database"), metrics);
            if (accountStore is null)
            {
                accountStore = ownedAccounts = new DatabaseAccountStore(options.Database);
            }
        }

        StateServer = new StateServer.StateServer(this.router, registry, loggerFactory.CreateLogger("Pastry.Otp.StateServer"), Database is not null, options.StateServer)
        {
            // Where links prove a secret, a participant that holds it must still prove the application's own key.
            RequireApplicationKey = options.MessageDirector.Secret.Length > 0 || options.MessageDirector.PrivilegedSecret.Length > 0,
        };
        var accounts = new AccountService(accountStore ?? new InMemoryAccountStore(), options.Accounts, time, loggerFactory.CreateLogger("Pastry.Otp.Accounts"));
        UberDogs = new UberDogHost(registry, accounts, loggerFactory.CreateLogger("Pastry.Otp.UberDogs"), metrics);
        ClientAgent = new ClientAgent.ClientAgent(options.ClientAgent, this.router, registry, UberDogs, interestPolicy ?? new VisibleParentsInterestPolicy(), time, metrics, loggerFactory.CreateLogger("Pastry.Otp.ClientAgent"));
        MessageDirector = new MessageDirectorServer(options.MessageDirector, this.router, loggerFactory.CreateLogger("Pastry.Otp.MessageDirector"));
        Diagnostics = new DiagnosticsRole(this.router, loggerFactory.CreateLogger("Pastry.Otp.Diagnostics"));
        metrics.Track(this);
    }

    /// <summary>The app's models.</summary>
    public ModelRegistry Registry { get; }

    /// <summary>The settings in use.</summary>
    public OtpOptions Options { get; }

    /// <summary>The Message Director's router (in process, or a backplane); an in-process AI publishes and subscribes here.</summary>
    public IMessageRouter Router => router;

    /// <summary>The State Server.</summary>
    internal StateServer.StateServer StateServer { get; }

    /// <summary>The Database role, or null when it is off (<see cref="DatabaseOptions.Enabled"/>).</summary>
    internal DatabaseServer? Database { get; }

    /// <summary>The Client Agent.</summary>
    internal ClientAgent.ClientAgent ClientAgent { get; }

    /// <summary>The UberDOG host (login).</summary>
    internal UberDogHost UberDogs { get; }

    /// <summary>The Message Director's TCP endpoint for AI processes.</summary>
    internal MessageDirectorServer MessageDirector { get; }

    /// <summary>The diagnostics role (memory reports for tools on the Message Director).</summary>
    internal DiagnosticsRole Diagnostics { get; }

    /// <summary>Messages the Message Director handed to subscribers of this process so far.</summary>
    public long Deliveries => router is IDeliveryCounter counter ? counter.Deliveries : 0;

    /// <summary>Whether <see cref="Start"/> ran and the server is not disposed: every role is up and both listeners are bound.</summary>
    public bool IsRunning => started && Volatile.Read(ref disposed) == 0;

    /// <summary>The metrics on the <c>Pastry</c> meter.</summary>
    public OtpMetrics Metrics => metrics;

    /// <summary>Where clients connect (with the real port once started).</summary>
    public IPEndPoint ClientEndPoint => ClientAgent.LocalEndPoint ?? throw new InvalidOperationException("The server is not started.");

    /// <summary>Where AI processes connect (with the real port once started).</summary>
    public IPEndPoint MessageDirectorEndPoint => MessageDirector.LocalEndPoint ?? throw new InvalidOperationException("The server is not started.");

    /// <summary>Starts every role and binds the listeners.</summary>
    /// <exception cref="System.Net.Sockets.SocketException">A port is in use or cannot be bound.</exception>
    public void Start()
    {
        if (started)
        {
            throw new InvalidOperationException("The server is already started.");
        }

        started = true;
        Database?.Start();
        StateServer.Start();
        Diagnostics.Start();
        MessageDirector.Start();
        ClientAgent.Start();
        logger.LogInformation("OTP ready: {Models} model(s), schema {Hash}, app version {Version}", Registry.Models.Count, Registry.SchemaHashText, Options.ClientAgent.AppVersion);
    }

    /// <summary>Stops accepting, ejects sessions, drops links and stops the State Server.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        await ClientAgent.DisposeAsync().ConfigureAwait(false);
        await MessageDirector.DisposeAsync().ConfigureAwait(false);
        Diagnostics.Stop();
        await StateServer.DisposeAsync().ConfigureAwait(false);

        // After the State Server, whose last write-throughs the Database role still commits before it closes.
        if (Database is not null)
        {
            await Database.DisposeAsync().ConfigureAwait(false);
        }

        ownedAccounts?.Dispose();
        metrics.Dispose();
        logger.LogInformation("OTP stopped");
        _ = loggerFactory;
    }
}
