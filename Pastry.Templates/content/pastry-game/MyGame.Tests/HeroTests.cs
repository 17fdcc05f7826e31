using MyGame.Models;
using Pastry;

namespace MyGame.Tests;

/// <summary>Models work standalone, with no server: their rules can be tested like any class.</summary>
[TestClass]
public sealed class HeroTests
{
    [TestMethod]
    public void AName_LongerThan24_IsRefused_AndTheOldNameStays()
    {
        var hero = new Hero { Name = "Ann" };

        Assert.ThrowsExactly<ModelValidationException>(() => hero.Name = new string('x', 25));

        Assert.AreEqual("Ann", hero.Name);
    }

    [TestMethod]
    public void AHeroWithoutAName_FailsFullClean()
    {
        var problems = Assert.ThrowsExactly<ModelValidationException>(() => new Hero().FullClean());

        StringAssert.Contains(problems.Message, nameof(Hero.Name));
    }
}
