using Pastry.Otp.StateServer;

namespace Pastry.Tests.Otp;

/// <summary>
/// The bounds of every <see cref="StateServerOptions"/> setting but the mailbox (<see cref="OptionsValidationTests"/>
/// has that one): a value just outside a bound is refused with the message and key that name the setting, a value on
/// the bound is accepted, and the State Server refuses to start with a bad one.
/// </summary>
[TestClass]
public sealed class StateServerOptionsTests
{
    // The rows are plain text, not StateServerOptions objects: Stryker runs a data row by its identity, and rows that
    // carry objects (whose display name is only the type's name) had their mutants reported as surviving although
    // these tests kill them.
    [TestMethod]
    [DataRow(nameof(StateServerOptions.AiRestartGrace), "-00:00:00.0000001", "must be between 00:00:00 and 1.00:00:00.")]
    [DataRow(nameof(StateServerOptions.AiRestartGrace), "1.00:00:00.0000001", "must be between 00:00:00 and 1.00:00:00.")]
    [DataRow(nameof(StateServerOptions.AiHandOverTimeout), "00:00:00.0009999", "must be between 00:00:00.001 and 00:10:00.")]
    [DataRow(nameof(StateServerOptions.AiHandOverTimeout), "00:10:00.0000001", "must be between 00:00:00.001 and 00:10:00.")]
    [DataRow(nameof(StateServerOptions.MaxHandOverHeldRequests), "-1", "must be between 0 and 1000000.")]
    [DataRow(nameof(StateServerOptions.MaxHandOverHeldRequests), "1000001", "must be between 0 and 1000000.")]
    [DataRow(nameof(StateServerOptions.MaxMovedObjects), "0", "must be between 1 and 65535.")]
    [DataRow(nameof(StateServerOptions.MaxMovedObjects), "65536", "must be between 1 and 65535.")]
    [DataRow(nameof(StateServerOptions.MoveTimeout), "00:00:00.0009999", "must be between 00:00:00.001 and 00:10:00.")]
    [DataRow(nameof(StateServerOptions.MoveTimeout), "00:10:00.0000001", "must be between 00:00:00.001 and 00:10:00.")]
    [DataRow(nameof(StateServerOptions.MoveForwardTime), "-00:00:00.0000001", "must be between 00:00:00 and 1.00:00:00.")]
    [DataRow(nameof(StateServerOptions.MoveForwardTime), "1.00:00:00.0000001", "must be between 00:00:00 and 1.00:00:00.")]
    public void ASettingJustOutsideItsBounds_IsRefused_NamingItsKeyAndBounds(string setting, string value, string bounds)
    {
        var options = With(new StateServerOptions(), setting, value);

        var error = Assert.ThrowsExactly<ArgumentException>(options.Validate);

        Assert.AreEqual($"StateServer:{setting}", error.ParamName);
        Assert.AreEqual($"StateServer:{setting} {bounds} (Parameter 'StateServer:{setting}')", error.Message);
    }

    [TestMethod]
    [DataRow("00:00:00", "00:00:00.001", "0", "1", "00:00:00.001", "00:00:00")]
    [DataRow("1.00:00:00", "00:10:00", "1000000", "65535", "00:10:00", "1.00:00:00")]
    public void EverySettingOnItsBounds_IsAccepted(string aiRestartGrace, string aiHandOverTimeout, string maxHandOverHeldRequests, string maxMovedObjects, string moveTimeout, string moveForwardTime)
    {
        var options = new StateServerOptions();
        With(options, nameof(StateServerOptions.AiRestartGrace), aiRestartGrace);
        With(options, nameof(StateServerOptions.AiHandOverTimeout), aiHandOverTimeout);
        With(options, nameof(StateServerOptions.MaxHandOverHeldRequests), maxHandOverHeldRequests);
        With(options, nameof(StateServerOptions.MaxMovedObjects), maxMovedObjects);
        With(options, nameof(StateServerOptions.MoveTimeout), moveTimeout);
        With(options, nameof(StateServerOptions.MoveForwardTime), moveForwardTime);

        options.Validate();
    }

    [TestMethod]
    public void TheStateServer_WithABadSetting_DoesNotStart()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new StateServer(new Pastry.Otp.MessageDirector.InProcessRouter(), ModelRegistry.FromTypes(new[] { typeof(Waymark) }), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, options: new StateServerOptions { MaxMovedObjects = 0 }));
        Assert.AreEqual("StateServer:MaxMovedObjects", error.ParamName);
    }

    /// <summary>Sets one setting from its text (a time span or an integer, by the property's type).</summary>
    private static StateServerOptions With(StateServerOptions options, string setting, string value)
    {
        var property = typeof(StateServerOptions).GetProperty(setting)!;
        property.SetValue(options, property.PropertyType == typeof(TimeSpan)
            ? TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture)
            : int.Parse(value, System.Globalization.CultureInfo.InvariantCulture));
        return options;
    }
}
