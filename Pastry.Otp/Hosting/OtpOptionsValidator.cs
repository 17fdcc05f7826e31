using Microsoft.Extensions.Options;

namespace Pastry.Otp.Hosting;

/// <summary>Runs <see cref="OtpOptions.Validate"/> when the host starts; the failure names the key, for example <c>ClientAgent:Port</c>.</summary>
internal sealed class OtpOptionsValidator : IValidateOptions<OtpOptions>
{
    public ValidateOptionsResult Validate(string? name, OtpOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            string message = ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal);
            return ValidateOptionsResult.Fail(message);
        }
    }
}
