using Pastry.Otp.ClientAgent;

namespace Pastry.Tests.Otp;

/// <summary>
/// The logic of <c>ClientAgent:FileDescriptorReserve</c> (the process test is
/// <c>HostileClientTests.OutOfFileDescriptors_TheReserveRefuses349_…</c>): which descriptor numbers a client socket may have.
/// </summary>
[TestClass]
public sealed class FileDescriptorBudgetTests
{
    [TestMethod]
    public void ASocketBelowTheReserve_IsAdmitted_OneInItIsNot()
    {
        var budget = new FileDescriptorBudget(128, 512);

        Assert.AreEqual(384, budget.FirstReserved);
        Assert.IsTrue(budget.Admits(383));
        Assert.IsFalse(budget.Admits(384));
        Assert.IsFalse(budget.Admits(511));
        StringAssert.Contains(budget.Refusal, "file-descriptor limit 512");
    }

    [TestMethod]
    public void AnUnknownLimit_OrAReserveOfZero_AdmitsEverything()
    {
        Assert.IsTrue(new FileDescriptorBudget(128, null).Admits(1_000_000));
        Assert.IsTrue(new FileDescriptorBudget(0, 512).Admits(511));
        Assert.IsFalse(new FileDescriptorBudget(1024, 512).Admits(0), "A reserve above the limit admits nothing.");
    }

    [TestMethod]
    public void TheSoftLimit_IsReadFromProcSelfLimits_UnlimitedIsNone()
    {
        Assert.AreEqual(512L, FileDescriptorBudget.ParseOpenFilesLine("Max open files            512                  4096                 files     "));
        Assert.IsNull(FileDescriptorBudget.ParseOpenFilesLine("Max open files            unlimited            unlimited            files     "));
        if (OperatingSystem.IsLinux())
        {
            Assert.IsTrue(FileDescriptorBudget.ReadOpenFilesLimit() > 0, "This process's own limit is readable.");
        }
    }
}
