using System.Reflection;
using Microsoft.Extensions.Hosting;
using Pastry.Ai.Hosting;
using Pastry.Cli.Hosting;
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
    private static readonly string[] Roles = { "otp", "ai", "all" };

    public static async Task<int> RunAsync(string[] args, IEnumerable<Assembly> appAssemblies)
    {
        var (role, configPath, apps, overrides) = SplitArguments(args);
        if (!Roles.Contains(role, StringComparer.Ordinal))
        {
            throw new UsageException($"--role must be one of {string.Join(", ", Roles)}; got '{role}'.");
        }

        var registryOptions = CommandOptions.Parse(apps.SelectMany(a => new[] { "--app", a }).ToArray());
        var loaded = PastryCommandLine.LoadAssemblies(registryOptions, appAssemblies);
        var registry = ModelRegistry.FromAssemblies(loaded);
        Type? application = null;
        string banner = string.Empty;
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

                if (role != "ai")
                {
                    builder.Services.AddPastryOtp(builder.Configuration, registry);
                }

                if (application is not null)
                {
                    builder.Services.AddPastryAi(application, builder.Configuration, registry);
                }
            },
            () => $"pastry serve --role {role}: {registry.Models.Count - ModelRegistry.BuiltInModels.Count} app model(s) loaded, AI: {application?.FullName ?? "none"}").ConfigureAwait(false);
    }

    private static (string Role, string? Config, List<string> Apps, List<string> Overrides) SplitArguments(string[] args)
    {
        string role = "all";
        string? config = null;
        var apps = new List<string>();
        var overrides = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string? Next() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{arg} needs a value.");
            switch (arg)
            {
                case "--role":
                    role = Next()!;
                    break;
                case "--config":
                    config = Next();
                    break;
                case "--app":
                    apps.Add(Next()!);
                    break;
                default:
                    if (!arg.StartsWith("--", StringComparison.Ordinal) || !arg.Contains(':', StringComparison.Ordinal))
                    {
                        throw new UsageException($"Unexpected argument '{arg}'. serve takes --role, --config, --app and setting overrides such as --ClientAgent:Port 7200.");
                    }

                    overrides.Add(arg);
                    if (!arg.Contains('=', StringComparison.Ordinal))
                    {
                        overrides.Add(Next()!);
                    }

                    break;
            }
        }

        return (role, config, apps, overrides);
    }
}
