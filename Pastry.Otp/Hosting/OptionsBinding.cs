using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Pastry.Otp.Hosting;

/// <summary>Binds settings so that a value of the wrong type is a configuration error naming its key, like a failed validation.</summary>
internal static class OptionsBinding
{
    public static void Bind<TOptions>(IConfiguration configuration, TOptions options)
        where TOptions : class
    {
        try
        {
            configuration.Bind(options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key: "Failed to convert configuration value 'x' at 'ClientAgent:Port' to type 'System.Int32'."
            throw new OptionsValidationException(Options.DefaultName, typeof(TOptions), new[] { ex.Message });
        }
    }
}
