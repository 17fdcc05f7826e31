using Pastry.Otp.ClientAgent;
using Pastry.Otp.StateServer;

namespace Pastry.Tests.Otp;

/// <summary>
/// The Client Agent's and State Server's settings are checked at start-up: each limit is accepted exactly at its
/// bound and refused one step past it, with an error that names the key (found by mutation testing: the bounds had
/// no test, so an off-by-one or a dropped check survived).
/// </summary>
[TestClass]
public sealed class OptionsValidationTests
{
    [TestMethod]
    public void ClientAgentDefaults_AreValid() => new ClientAgentOptions().Validate();

    [TestMethod]
    [DataRow("Host", "")]
    [DataRow("Host", " ")]
    [DataRow("Port", -1)]
    [DataRow("Port", 65536)]
    [DataRow("AppVersion", "")]
    [DataRow("MaxFrameBytes", 255)]
    [DataRow("MaxFrameBytes", 16 * 1024 * 1024 + 1)]
    [DataRow("HeartbeatTimeout", 0)]
    [DataRow("MaxInterests", 0)]
    [DataRow("MaxZonesPerInterest", 0)]
    [DataRow("MaxZonesPerSession", 1023)]
    [DataRow("MaxInterestChangesPerSecond", 0)]
    [DataRow("MaxMessagesPerSecond", 0)]
    [DataRow("MaxOutgoingBytes", 4095)]
    [DataRow("MaxPendingUberDogCalls", 0)]
    [DataRow("LoginTimeout", 0)]
    [DataRow("MaxConnectionsPerAddress", 0)]
    [DataRow("MaxNewConnectionsPerSecondPerAddress", 0)]
    [DataRow("SocketSendBufferBytes", 4095)]
    [DataRow("FlushInterval", -1)]
    [DataRow("FlushInterval", 1001)]
    public void ClientAgentSetting_OnePastItsBound_IsRefused_NamingTheKey(string setting, object value)
    {
        var options = With(setting, value);

        var error = Assert.ThrowsExactly<ArgumentException>(options.Validate);

        Assert.AreEqual("ClientAgent:" + setting, error.ParamName);
        StringAssert.StartsWith(error.Message, "ClientAgent:" + setting + " must ", "The message names the key and the rule.");
    }

    [TestMethod]
    [DataRow("Port", 0)]
    [DataRow("Port", 65535)]
    [DataRow("MaxFrameBytes", 256)]
    [DataRow("MaxFrameBytes", 16 * 1024 * 1024)]
    [DataRow("HeartbeatTimeout", 1)]
    [DataRow("MaxInterests", 1)]
    [DataRow("MaxZonesPerSession", 1024)]
    [DataRow("MaxInterestChangesPerSecond", 1)]
    [DataRow("MaxMessagesPerSecond", 1)]
    [DataRow("MaxOutgoingBytes", 4096)]
    [DataRow("MaxPendingUberDogCalls", 1)]
    [DataRow("LoginTimeout", 1)]
    [DataRow("MaxConnectionsPerAddress", 1)]
    [DataRow("MaxNewConnectionsPerSecondPerAddress", 1)]
    [DataRow("SocketSendBufferBytes", 4096)]
    [DataRow("FlushInterval", 0)]
    [DataRow("FlushInterval", 1000)]
    public void ClientAgentSetting_AtItsBound_IsAccepted(string setting, object value) => With(setting, value).Validate();

    [TestMethod]
    public void MaxZonesPerInterest_OfOne_IsAccepted_WhenTheSessionAllowsAsMany()
    {
        new ClientAgentOptions { MaxZonesPerInterest = 1, MaxZonesPerSession = 1 }.Validate();
    }

    [TestMethod]
    [DataRow(15)]
    [DataRow(16_777_217)]
    public void StateServerMailbox_OutsideItsBounds_IsRefused_NamingTheKeyAndItsBounds(int capacity)
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new StateServerOptions { MailboxCapacity = capacity }.Validate());
        Assert.AreEqual("StateServer:MailboxCapacity", error.ParamName);
        Assert.AreEqual("StateServer:MailboxCapacity must be between 16 and 16777216. (Parameter 'StateServer:MailboxCapacity')", error.Message);
    }

    [TestMethod]
    [DataRow(16)]
    [DataRow(16_777_216)]
    public void StateServerMailbox_AtItsBounds_IsAccepted(int capacity) => new StateServerOptions { MailboxCapacity = capacity }.Validate();

    /// <summary>Default options with one setting changed; time spans are given in milliseconds.</summary>
    private static ClientAgentOptions With(string setting, object value)
    {
        var options = new ClientAgentOptions();
        var property = typeof(ClientAgentOptions).GetProperty(setting)!;
        object converted = property.PropertyType == typeof(TimeSpan) ? TimeSpan.FromMilliseconds((int)value) : value;
        property.SetValue(options, converted);
        return options;
    }
}
