namespace Demo.Tavern;

/// <summary>
/// Where the browser page's files are (Demo.Tavern.Web's build output, which the Tavern's build copies into
/// <c>web/</c> beside the Tavern's DLL). The default run serves them on the Client Agent's WebSocket listener.
/// </summary>
public static class TavernWeb
{
    /// <summary>The folder the page's files are expected in.</summary>
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "web");

    /// <summary>The folder when it holds a complete page (its index.html and the .NET runtime it loads), or null.</summary>
    public static string? FindFiles() =>
        File.Exists(Path.Combine(Folder, "index.html")) && File.Exists(Path.Combine(Folder, "_framework", "blazor.webassembly.js")) ? Folder : null;

    /// <summary>A port on 127.0.0.1 that is free now (for <c>--web-port 0</c>: the Tavern prints the page's address before it listens).</summary>
    public static int FreePort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }
}
