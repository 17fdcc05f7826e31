using System.Globalization;
using System.Net.Sockets;

namespace Pastry.Otp.ClientAgent;

/// <summary>
/// Keeps client connections from taking the process's last file descriptors (<c>ClientAgent:FileDescriptorReserve</c>).
/// The .NET runtime needs a descriptor to start a thread (a short-lived pipe), to load an assembly and to open a file;
/// when clients have taken them all, a thread-pool thread that cannot start ends the process with "Out of memory.".
/// So the Client Agent refuses a connection (349) when its socket got one of the last <see cref="Reserve"/>
/// descriptors. The check costs nothing per connection: the kernel gives a new socket the lowest free descriptor, so
/// a number at or above <c>limit - reserve</c> means every lower one is taken. Client sockets therefore always sit
/// below that line, and the descriptors above it stay for the runtime, the database and the Message Director's links.
/// </summary>
internal sealed class FileDescriptorBudget
{
    private readonly long firstReserved;

    /// <summary>Uses the process's own open-files limit (Linux; elsewhere nothing is refused).</summary>
    public FileDescriptorBudget(int reserve)
        : this(reserve, ReadOpenFilesLimit())
    {
    }

    /// <summary>For tests: <paramref name="limit"/> is the open-files limit (null: unknown or unlimited, nothing is refused).</summary>
    internal FileDescriptorBudget(int reserve, long? limit)
    {
        Reserve = reserve;
        Limit = limit;
        firstReserved = reserve > 0 && limit is { } known ? Math.Max(0, known - reserve) : long.MaxValue;
    }

    /// <summary>The open-files limit (<c>ulimit -n</c>), or null when it is unknown or unlimited.</summary>
    public long? Limit { get; }

    /// <summary>How many descriptors at the top of the limit client connections may not take.</summary>
    public int Reserve { get; }

    /// <summary>The first descriptor number a client socket may not have (no such line: <see cref="long.MaxValue"/>).</summary>
    public long FirstReserved => firstReserved;

    /// <summary>Whether <paramref name="descriptor"/> (a just-accepted socket's) leaves the reserve untouched.</summary>
    public bool Admits(long descriptor) => descriptor < firstReserved;

    /// <summary>Whether the just-accepted <paramref name="socket"/> leaves the reserve untouched (always on Windows, whose handles are not small numbers).</summary>
    public bool Admits(Socket socket) => OperatingSystem.IsWindows() || Admits(socket.Handle.ToInt64());

    /// <summary>The reason a refused client is sent with 349.</summary>
    public string Refusal => $"the server is out of connections (its file-descriptor limit {Limit}, ulimit -n, less {Reserve} kept for itself by ClientAgent:FileDescriptorReserve); try again later";

    /// <summary>The soft open-files limit from <c>/proc/self/limits</c>, or null (not Linux, unreadable or unlimited).</summary>
    internal static long? ReadOpenFilesLimit()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    return ParseOpenFilesLine(line);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>The soft limit of a <c>/proc/self/limits</c> line such as <c>Max open files  512  4096  files</c>; null when unlimited or unreadable.</summary>
    internal static long? ParseOpenFilesLine(string line)
    {
        string[] words = line.Substring("Max open files".Length).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return words.Length > 0 && long.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out long soft) ? soft : null;
    }
}
