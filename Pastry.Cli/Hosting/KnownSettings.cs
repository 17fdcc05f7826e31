using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Pastry.Ai.Hosting;
using Pastry.Otp;

namespace Pastry.Cli.Hosting;

/// <summary>
/// Every configuration key the roles read, found by reflection on the options classes (each section of
/// <see cref="OtpOptions"/>, the <c>Ai</c> section and <c>Logging:Level</c>), so that a new setting is known as soon
/// as its property exists. Keys that match none get a warning naming the closest known key.
/// </summary>
internal static class KnownSettings
{
    /// <summary>Each section and the options class bound from it.</summary>
    public static IReadOnlyList<(string Section, Type Options)> Sections { get; } =
        typeof(OtpOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .Select(p => (p.Name, p.PropertyType))
            .Append(("ClientAgent:Tls", typeof(Pastry.Otp.ClientAgent.ClientAgentTlsOptions)))
            .Append(("ClientAgent:WebSocket", typeof(Pastry.Otp.ClientAgent.ClientAgentWebSocketOptions)))
            .Append((AiHostOptions.Section, typeof(AiHostOptions)))
            .Append((Pastry.Nats.NatsBackplaneOptions.Section, typeof(Pastry.Nats.NatsBackplaneOptions)))
            .Append(("Admin", typeof(Pastry.Otp.Admin.AdminOptions)))
            .Append(("Admin:Map", typeof(Pastry.Otp.Admin.AdminMapOptions)))
            .Append(("Logging", typeof(LoggingSettings)))
            .ToList();

    /// <summary>Every key with its type and default, in section order.</summary>
    public static IReadOnlyList<(string Key, Type Type, string Default)> Keys { get; } = Sections
        .SelectMany(s =>
        {
            object defaults = Activator.CreateInstance(s.Options)!;
            return s.Options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.CanWrite && p.GetSetMethod() is not null && (p.PropertyType == typeof(string) || p.PropertyType == typeof(string[]) || p.PropertyType.IsValueType))
                .Select(p => ($"{s.Section}:{p.Name}", p.PropertyType, Format(p.GetValue(defaults))));
        })
        .ToList();

    /// <summary>A warning for every key in <paramref name="configuration"/> that no role reads, naming the closest known key.</summary>
    public static IEnumerable<string> Warnings(IConfiguration configuration)
    {
        var known = new HashSet<string>(Keys.Select(k => k.Key), StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (value is null || known.Contains(key) || IsArrayItem(key, known))
            {
                continue;
            }

            string? closest = Spelling.Closest(key, known);
            yield return $"unknown setting '{key}' (ignored).{(closest is null ? string.Empty : $" Did you mean '{closest}'?")}";
        }
    }

    /// <summary>Whether <paramref name="key"/> is an item of a known list setting (<c>ClientAgent:WebSocket:AllowedOrigins:0</c>).</summary>
    private static bool IsArrayItem(string key, HashSet<string> known)
    {
        int last = key.LastIndexOf(':');
        return last > 0 && int.TryParse(key.AsSpan(last + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _) && known.Contains(key[..last]);
    }

    private static string Format(object? value) => value switch
    {
        null => "(none)",
        string[] list => list.Length == 0 ? "(none)" : string.Join(", ", list),
        string text => text.Length == 0 ? "(empty)" : text,
        TimeSpan span => span.ToString("c", CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>The <c>Logging</c> section the command line reads.</summary>
    internal sealed class LoggingSettings
    {
        /// <summary>The lowest level written: Trace, Debug, Info, Warn, Error, Fatal or Off. Default: Info.</summary>
        public string Level { get; set; } = "Info";
    }
}
