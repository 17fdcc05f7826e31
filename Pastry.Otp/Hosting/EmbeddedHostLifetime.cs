using Microsoft.Extensions.Hosting;

namespace Pastry.Otp.Hosting;

/// <summary>
/// The lifetime of a web host that runs inside the server's own host (the admin endpoint, the WebSocket listener): it
/// ignores signals and leaves them to the outer host, which stops the inner one. With the default console lifetime an
/// inner host would catch SIGTERM too and cancel its own start while it binds.
/// </summary>
internal sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
