using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Pastry.Otp.Admin;

/// <summary>
/// The admin HTTP endpoint on Kestrel (ARCHITECTURE 8): <c>/healthz</c> (live), <c>/readyz</c> (ready),
/// <c>/metrics</c> (OpenTelemetry's Prometheus exporter over the <c>Pastry</c> meter and the runtime's metrics), and the
/// dashboard at <c>/</c> with its live feed (<c>/events</c>, server-sent events) and one operator action (eject a
/// session). The page's files are embedded in this assembly: nothing comes from a CDN.
/// </summary>
/// <remarks>
/// It reads the roles only through thread-safe views: the State Server answers a snapshot request through its own
/// queue, and sessions are read under their own locks. It runs its own small web application, so a host that has no
/// ASP.NET Core pipeline of its own (the <c>pastry</c> command, a game's worker host) needs nothing else.
/// </remarks>
public sealed class AdminServer : IHostedService, IAsyncDisposable
{
    /// <summary>The header every state-changing request must carry: a browser sends it only from the dashboard's own page (no cross-site form can).</summary>
    public const string ActionHeader = "X-Pastry-Admin";

    private const string TokenCookie = "pastry_admin";
    private static readonly JsonSerializerOptions Json = DashboardFeed.JsonOptions;

    private readonly AdminOptions options;
    private readonly Func<OtpServer?> server;
    private readonly AdminReadiness readiness;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly ILogger audit;
    private readonly SnapshotCache snapshots = new();
    private WebApplication? app;

    /// <summary>Creates the endpoint; <see cref="StartAsync"/> binds it.</summary>
    public AdminServer(AdminOptions options, Func<OtpServer?> server, AdminReadiness readiness, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        this.options = options;
        this.server = server;
        this.readiness = readiness;
        this.loggerFactory = loggerFactory;
        logger = loggerFactory.CreateLogger("Pastry.Otp.Admin");
        audit = loggerFactory.CreateLogger("Pastry.Otp.Admin.Audit");
        readiness.Add("otp", () => server() is { } otp ? (otp.IsRunning ? null : "the OTP is not running") : null);
        readiness.Add("database", () => server() is { Database: { } db } ? (!db.IsOpen ? "the database is closed" : db.IsFailing ? $"the database is failing ({db.LastError})" : null) : null);
        readiness.Add("message-director", () => server() is { } otp ? (otp.MessageDirector.LocalEndPoint is null ? "the Message Director is not listening" : null) : null);
        readiness.Add("client-agent", () => server() is { } otp ? (otp.ClientAgent.LocalEndPoint is null ? "the Client Agent is not listening" : null) : null);
    }

    /// <summary>The address the endpoint listens on, with the real port (null until started).</summary>
    public Uri? Url { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Enabled)
        {
            logger.LogInformation("Admin endpoint disabled (Admin:Enabled false)");
            return;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Array.Empty<string>(), ApplicationName = "Pastry.Admin" });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);

        // The outer host owns Ctrl+C and SIGTERM. Left to its default console lifetime, this inner host also caught
        // SIGTERM and cancelled its own start while Kestrel was binding, which crashed a process stopped right after
        // it started (exit 134).
        builder.Services.AddSingleton<IHostLifetime, Pastry.Otp.Hosting.EmbeddedHostLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (options.Host == "localhost")
            {
                kestrel.Listen(IPAddress.Loopback, options.Port);
            }
            else
            {
                kestrel.Listen(IPAddress.Parse(options.Host), options.Port);
            }
        });
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(OtpMetrics.MeterName)
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());

        var web = builder.Build();
        web.Use(RequireTokenAsync);
        web.MapPrometheusScrapingEndpoint("/metrics");
        web.MapGet("/healthz", () => Results.Text("ok\n"));
        web.MapGet("/readyz", Ready);
        web.MapGet("/", () => Asset("index.html", "text/html; charset=utf-8"));
        web.MapGet("/dashboard.js", () => Asset("dashboard.js", "text/javascript; charset=utf-8"));
        web.MapGet("/dashboard.css", () => Asset("dashboard.css", "text/css; charset=utf-8"));
        web.MapGet("/api/overview", OverviewAsync);
        web.MapGet("/events", StreamAsync);
        web.MapPost("/api/sessions/{id}/eject", EjectAsync);
        try
        {
            // Not cancelled by a stop that arrives while it binds (SIGTERM right after start): the endpoint finishes
            // starting and the host then stops it like every other service, instead of failing the whole start.
            await web.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            logger.LogInformation("Admin endpoint start abandoned: the server is stopping");
            await web.DisposeAsync().ConfigureAwait(false);
            return;
        }
        catch (IOException ex)
        {
            // The game keeps running without its admin page (a second server on one machine, for example); the
            // missing /healthz tells a supervisor, and this line tells the operator.
            logger.LogError("Admin endpoint could not bind {Host}:{Port}: {Message}. Set Admin:Port (0 lets the OS choose) or Admin:Enabled false", options.Host, options.Port, ex.Message);
            await web.DisposeAsync().ConfigureAwait(false);
            return;
        }

        app = web;
        Url = new Uri(web.Urls.First());
        logger.LogInformation("Admin endpoint listening on {Url} (dashboard /, health /healthz, readiness /readyz, metrics /metrics){Token}", Url, string.IsNullOrEmpty(options.Token) ? string.Empty : "; a token is required");
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (app is not null)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            app = null;
        }
    }

    private IResult Ready()
    {
        var results = readiness.Check();
        bool ready = results.All(r => r.Ready);
        return Results.Json(new { ready, checks = results }, Json, statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private async Task RequireTokenAsync(HttpContext context, RequestDelegate next)
    {
        string path = context.Request.Path.Value ?? "/";
        if (options.Token.Length == 0 || path is "/healthz" or "/readyz")
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        string? offered = null;
        string authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            offered = authorization["Bearer ".Length..];
        }
        else if (context.Request.Query.TryGetValue("token", out var query))
        {
            offered = query.ToString();
        }
        else if (context.Request.Cookies.TryGetValue(TokenCookie, out var cookie))
        {
            offered = cookie;
        }

        if (offered is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(offered), Encoding.UTF8.GetBytes(options.Token)))
        {
            logger.LogWarning("Admin endpoint refused {Method} {Path} from {Remote}: {Why}", context.Request.Method, path, context.Connection.RemoteIpAddress, offered is null ? "no token" : "wrong token");
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await context.Response.WriteAsync("A token is required: Authorization: Bearer <Admin:Token>, or ?token=<Admin:Token> in a browser.\n").ConfigureAwait(false);
            return;
        }

        if (context.Request.Query.ContainsKey("token"))
        {
            // The page's own requests (fetch, EventSource) then carry the cookie instead of the token in every URL.
            context.Response.Cookies.Append(TokenCookie, offered, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
        }

        await next(context).ConfigureAwait(false);
    }

    private static IResult Asset(string name, string contentType)
    {
        var stream = typeof(AdminServer).Assembly.GetManifestResourceStream($"Pastry.Otp.Admin.wwwroot.{name}");
        return stream is null ? Results.NotFound() : Results.Stream(stream, contentType);
    }

    private Task<DashboardFeed.Overview> FeedAsync(HttpContext context)
    {
        var query = context.Request.Query;
        int offset = int.TryParse(query["offset"], out int o) ? Math.Max(0, o) : 0;
        int count = int.TryParse(query["count"], out int c) ? Math.Clamp(c, 1, DashboardFeed.MaxPageSize) : DashboardFeed.DefaultPageSize;
        string filter = query["filter"].ToString();
        return DashboardFeed.BuildAsync(server(), options, readiness, snapshots, offset, count, filter.Length > 100 ? filter[..100] : filter, context.RequestAborted);
    }

    /// <summary>
    /// One overview as JSON (what each server-sent event carries), for scripts. Written here, not returned as an
    /// <see cref="IResult"/>: a handler that takes only the <see cref="HttpContext"/> binds as a plain request delegate,
    /// which drops its result and answered an empty 200.
    /// </summary>
    private async Task OverviewAsync(HttpContext context)
    {
        var overview = await FeedAsync(context).ConfigureAwait(false);
        await context.Response.WriteAsJsonAsync(overview, Json, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Server-sent events: one overview a second until the browser goes away.</summary>
    private async Task StreamAsync(HttpContext context)
    {
        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var cancellation = context.RequestAborted;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            do
            {
                var overview = await FeedAsync(context).ConfigureAwait(false);
                await context.Response.WriteAsync("data: ", cancellation).ConfigureAwait(false);
                await JsonSerializer.SerializeAsync(context.Response.Body, overview, Json, cancellation).ConfigureAwait(false);
                await context.Response.WriteAsync("\n\n", cancellation).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(cancellation).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(cancellation).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
            // The State Server stopped while the page was open.
        }
    }

    private async Task<IResult> EjectAsync(HttpContext context, string id)
    {
        if (!context.Request.Headers.ContainsKey(ActionHeader))
        {
            return Results.Problem($"Operator actions need the {ActionHeader} header (the dashboard sends it).", statusCode: StatusCodes.Status400BadRequest);
        }

        if (!DoId.TryParse(id, out var session))
        {
            return Results.Problem($"'{id}' is not a session id.", statusCode: StatusCodes.Status400BadRequest);
        }

        EjectRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<EjectRequest>(context.Request.Body, Json, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            return Results.Problem($"The body must be JSON {{\"reason\": \"...\"}}: {ex.Message}", statusCode: StatusCodes.Status400BadRequest);
        }

        string reason = request?.Reason?.Trim() ?? string.Empty;
        if (reason.Length is 0 or > 200)
        {
            return Results.Problem("An eject needs a reason of 1 to 200 characters; the player sees it.", statusCode: StatusCodes.Status400BadRequest);
        }

        if (server() is not { } otp)
        {
            return Results.Problem("This process runs no Client Agent.", statusCode: StatusCodes.Status404NotFound);
        }

        var account = otp.ClientAgent.Sessions(0, int.MaxValue, id).Page.FirstOrDefault(s => s.Id == session)?.Account ?? DoId.Empty;
        bool ejected = otp.ClientAgent.EjectByOperator(session, reason);
        using (audit.BeginScope(new Dictionary<string, object?> { ["session"] = session, ["account"] = account, ["ejectCode"] = (int)Wire.EjectCode.OperatorEject }))
        {
            audit.LogWarning("AUDIT operator at {Remote} ejected session {SessionId} (account {Account}) with {Code}: {Reason} ({Outcome})", context.Connection.RemoteIpAddress, session, account, (int)Wire.EjectCode.OperatorEject, reason, ejected ? "done" : "no such open session");
        }

        return ejected ? Results.Json(new { ejected = true, session, code = (int)Wire.EjectCode.OperatorEject }, Json) : Results.Problem($"No open session {session}.", statusCode: StatusCodes.Status404NotFound);
    }

    private sealed record EjectRequest(string? Reason);
}
