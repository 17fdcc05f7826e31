using System.CommandLine;
using System.Reflection;
using Microsoft.Extensions.Hosting;
using Pastry.Ai.Hosting;
using Pastry.Cli.Hosting;
using Pastry.Nats.Hosting;
using Pastry.Otp.Admin;
using Pastry.Otp.Hosting;

namespace Pastry.Cli;

/// <summary>
/// <c>pastry serve --role otp|ai|all [--config pastry.json] [--app &lt;assembly&gt;] [--Section:Key value ...]</c>:
/// runs the roles on the generic host through the hosting library (<c>AddPastryOtp</c>, <c>AddPastryAi</c>).
/// Configuration comes from <c>pastry.json</c>, then environment variables (<c>PASTRY_ClientAgent__Port=7200</c>),
/// then <c>--Section:Key value</c> flags. Ctrl+C and SIGTERM stop it gracefully.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(IEnumerable<Assembly> appAssemblies)
    {
        var role = new Option<string>("--role") { Description = "which roles this process runs: otp (server), ai (the game's AI, over TCP to an OTP, or over NATS with --MessageDirector:Backplane nats) or all (both, in process)", DefaultValueFactory = _ => "all", HelpName = "otp|ai|all" };
        role.AcceptOnlyFromAmong("otp", "ai", "all");
        var config = new Option<string?>("--config") { Description = "the settings file [default: pastry.json in the working directory, when it exists]", HelpName = "file" };
        var app = PastryCommandLine.AppOption();
        var takeOver = new Option<bool>("--take-over") { Description = "with --role ai: a rolling upgrade; take over the objects of the running AI of this application, which then stops (the same as --Ai:TakeOver true)" };
        var settings = ConfigurationFlags.CreateArgument(SettingsDescription());
        var serve = new Command("serve", "Runs the server roles on the generic host; Ctrl+C or SIGTERM stops it gracefully. Settings: pastry.json, then PASTRY_ environment variables, then --Section:Key value flags.")
        {
            role, config, app, takeOver, settings,
        };
        serve.SetAction((parse, _) =>
        {
            var overrides = ConfigurationFlags.Check(parse.GetValue(settings) ?? Array.Empty<string>(), "serve", serve.Options);
            if (parse.GetValue(takeOver))
            {
                if (parse.GetValue(role) != "ai")
                {
                    throw new UsageException("--take-over needs --role ai: a rolling upgrade starts a new AI process beside a running OTP (pastry serve --role ai --take-over).");
                }

                overrides.AddRange(new[] { "--Ai:TakeOver", "true" });
            }

            return RunAsync(parse.GetValue(role)!, parse.GetValue(config), parse.GetValue(app) ?? Array.Empty<string>(), overrides, appAssemblies);
        });
        return serve;
    }

    private static async Task<int> RunAsync(string role, string? configPath, string[] apps, List<string> overrides, IEnumerable<Assembly> appAssemblies)
    {
        var loaded = PastryCommandLine.LoadAssemblies(apps, appAssemblies);
        var registry = ModelRegistry.FromAssemblies(loaded);
        Type? application = null;
        return await PastryHost.RunAsync(
            configPath,
            overrides,
            builder =>
            {
                application = role == "otp" ? null : AiServiceCollectionExtensions.FindApplication(loaded, builder.Configuration["Ai:Application"]);
                if (role == "ai" && application is null)
                {
                    throw new UsageException("--role ai found no class implementing Pastry.Ai.IAiApplication in the --app assemblies.");
                }

                if (NatsServiceCollectionExtensions.IsSelected(builder.Configuration))
                {
                    // Before the roles, which then publish and subscribe through the nats-server; an OTP keeps the
                    // post-removes of the processes that share it.
                    builder.Services.AddPastryNats(builder.Configuration, keeper: role != "ai");
                }

                if (role != "ai")
                {
                    builder.Services.AddPastryOtp(builder.Configuration, registry);
                }

                if (application is not null)
                {
                    builder.Services.AddPastryAi(application, builder.Configuration, registry);
                }

                // After the roles, so that it starts once they run (/healthz, /readyz, /metrics, the dashboard).
                builder.Services.AddPastryAdmin(builder.Configuration);
            },
            () => $"pastry serve --role {role}: {registry.Models.Count - ModelRegistry.BuiltInModels.Count} app model(s) loaded, AI: {application?.FullName ?? "none"}").ConfigureAwait(false);
    }

    /// <summary>Where settings come from, and every setting serve reads with its default (from the options classes).</summary>
    private static string SettingsDescription()
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("settings, which override pastry.json and PASTRY_ environment variables (PASTRY_ClientAgent__Port=7200); each key with its default (docs/configuration.md says what each means):");
        foreach (var (key, _, fallback) in KnownSettings.Keys)
        {
            text.Append("  --").Append(key).Append(' ').AppendLine(fallback);
        }

        return text.ToString().TrimEnd();
    }
}
