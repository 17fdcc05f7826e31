using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pastry.Tests.Nats;

/// <summary>
/// A real <c>nats-server</c> on a free loopback port, started by a test and killed when it is disposed. Tests that
/// need one call <see cref="StartAsync"/>, which marks them inconclusive, with the fix, when the binary is missing
/// (.ci/run installs it: apt-get install -y nats-server), so that a machine without it still runs every other test.
/// </summary>
public sealed class NatsServer : IAsyncDisposable
{
    private static readonly string[] Candidates = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];
    private readonly Process process;
    private readonly System.Text.StringBuilder output = new();
    private int disposed;

    private NatsServer(Process process, int port)
    {
        this.process = process;
        Port = port;
    }

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>Its URL, for <c>Nats:Url</c>.</summary>
    public string Url => $"nats://127.0.0.1:{Port}";

    /// <summary>The nats-server binary, or null when it is not installed.</summary>
    public static string? Binary =>
        Candidates.FirstOrDefault(File.Exists)
        ?? (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "nats-server")).FirstOrDefault(File.Exists);

    /// <summary>Starts a nats-server on a free loopback port and waits until it says it is ready; inconclusive without the binary.</summary>
    public static async Task<NatsServer> StartAsync()
    {
        if (Binary is not { } binary)
        {
            const string Missing = "nats-server is not installed, so the NATS backplane tests cannot run: apt-get install -y nats-server (.ci/run does).";
            // CI sets TESTS_REQUIRE_NATS=1: there a missing server is a failure, never a quiet skip.
            throw Environment.GetEnvironmentVariable("TESTS_REQUIRE_NATS") == "1" ? new AssertFailedException(Missing + " TESTS_REQUIRE_NATS=1 requires it.") : new AssertInconclusiveException(Missing);
        }

        for (int attempt = 0; ; attempt++)
        {
            int port = Demo.Tavern.TavernWeb.FreePort(); // one helper for a port that is free now (the Tavern's --web-port 0 needs it too)
            var info = new ProcessStartInfo(binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string argument in new[] { "-a", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            {
                info.ArgumentList.Add(argument);
            }

            var process = new Process { StartInfo = info, EnableRaisingEvents = true };
            var server = new NatsServer(process, port);
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnLine(string? line)
            {
                if (line is null)
                {
                    return;
                }

                lock (server.output)
                {
                    server.output.AppendLine(line);
                }

                if (line.Contains("Server is ready", StringComparison.Ordinal))
                {
                    ready.TrySetResult();
                }
            }

            process.OutputDataReceived += (_, e) => OnLine(e.Data);
            process.ErrorDataReceived += (_, e) => OnLine(e.Data);
            process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("nats-server exited"));
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await ready.Task.WaitAsync(TimeSpan.FromSeconds(20));
                return server;
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException && attempt < 2)
            {
                // The free port was taken between the probe and the start: try another.
                await server.DisposeAsync();
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                string log = server.Output;
                await server.DisposeAsync();
                throw new AssertFailedException($"nats-server did not start on 127.0.0.1:{port}: {log}");
            }
        }
    }

    /// <summary>What the server printed.</summary>
    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

}
