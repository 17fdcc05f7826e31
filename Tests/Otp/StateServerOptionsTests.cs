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
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);

    public static IEnumerable<object[]> OutOfRange =>
    [
        [nameof(StateServerOptions.AiRestartGrace), new StateServerOptions { AiRestartGrace = TimeSpan.Zero - Tick }, "must be between 00:00:00 and 1.00:00:00."],
        [nameof(StateServerOptions.AiRestartGrace), new StateServerOptions { AiRestartGrace = TimeSpan.FromDays(1) + Tick }, "must be between 00:00:00 and 1.00:00:00."],
        [nameof(StateServerOptions.AiHandOverTimeout), new StateServerOptions { AiHandOverTimeout = TimeSpan.FromMilliseconds(1) - Tick }, "must be between 00:00:00.001 and 00:10:00."],
        [nameof(StateServerOptions.AiHandOverTimeout), new StateServerOptions { AiHandOverTimeout = TimeSpan.FromMinutes(10) + Tick }, "must be between 00:00:00.001 and 00:10:00."],
        [nameof(StateServerOptions.MaxHandOverHeldRequests), new StateServerOptions { MaxHandOverHeldRequests = -1 }, "must be between 0 and 1000000."],
        [nameof(StateServerOptions.MaxHandOverHeldRequests), new StateServerOptions { MaxHandOverHeldRequests = 1_000_001 }, "must be between 0 and 1000000."],
        [nameof(StateServerOptions.MaxMovedObjects), new StateServerOptions { MaxMovedObjects = 0 }, "must be between 1 and 65535."],
        [nameof(StateServerOptions.MaxMovedObjects), new StateServerOptions { MaxMovedObjects = 65_536 }, "must be between 1 and 65535."],
        [nameof(StateServerOptions.MoveTimeout), new StateServerOptions { MoveTimeout = TimeSpan.FromMilliseconds(1) - Tick }, "must be between 00:00:00.001 and 00:10:00."],
        [nameof(StateServerOptions.MoveTimeout), new StateServerOptions { MoveTimeout = TimeSpan.FromMinutes(10) + Tick }, "must be between 00:00:00.001 and 00:10:00."],
        [nameof(StateServerOptions.MoveForwardTime), new StateServerOptions { MoveForwardTime = TimeSpan.Zero - Tick }, "must be between 00:00:00 and 1.00:00:00."],
        [nameof(StateServerOptions.MoveForwardTime), new StateServerOptions { MoveForwardTime = TimeSpan.FromDays(1) + Tick }, "must be between 00:00:00 and 1.00:00:00."],
    ];

    public static IEnumerable<object[]> OnTheBounds =>
    [
        [new StateServerOptions { AiRestartGrace = TimeSpan.Zero, AiHandOverTimeout = TimeSpan.FromMilliseconds(1), MaxHandOverHeldRequests = 0, MaxMovedObjects = 1, MoveTimeout = TimeSpan.FromMilliseconds(1), MoveForwardTime = TimeSpan.Zero }],
        [new StateServerOptions { AiRestartGrace = TimeSpan.FromDays(1), AiHandOverTimeout = TimeSpan.FromMinutes(10), MaxHandOverHeldRequests = 1_000_000, MaxMovedObjects = 65_535, MoveTimeout = TimeSpan.FromMinutes(10), MoveForwardTime = TimeSpan.FromDays(1) }],
    ];

    [TestMethod]
    [DynamicData(nameof(OutOfRange))]
    public void ASettingJustOutsideItsBounds_IsRefused_NamingItsKeyAndBounds(string setting, StateServerOptions options, string bounds)
    {
        var error = Assert.ThrowsExactly<ArgumentException>(options.Validate);

        Assert.AreEqual($"StateServer:{setting}", error.ParamName);
        Assert.AreEqual($"StateServer:{setting} {bounds} (Parameter 'StateServer:{setting}')", error.Message);
    }

    [TestMethod]
    [DynamicData(nameof(OnTheBounds))]
    public void EverySettingOnItsBounds_IsAccepted(StateServerOptions options) => options.Validate();

    [TestMethod]
    public void TheStateServer_WithABadSetting_DoesNotStart()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new StateServer(new Pastry.Otp.MessageDirector.InProcessRouter(), ModelRegistry.FromTypes(new[] { typeof(Waymark) }), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, options: new StateServerOptions { MaxMovedObjects = 0 }));
        Assert.AreEqual("StateServer:MaxMovedObjects", error.ParamName);
    }
}
