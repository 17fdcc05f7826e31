using Demo.Tavern.Web;
using Microsoft.AspNetCore.Components.WebAssembly.Hosting;

// The page is one component; it connects to the server that served it (same origin, the WebSocket at /pastry).
var builder = WebAssemblyHostBuilder.CreateDefault(args);
builder.RootComponents.Add<App>("#app");
await builder.Build().RunAsync();
