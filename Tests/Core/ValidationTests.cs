namespace Pastry.Tests.Core;

/// <summary>Setting a field runs its clean method, then its validators; a failure throws and changes nothing.</summary>
[TestClass]
public sealed class ValidationTests
{
    private static Recruit ValidRecruit() => new()
    {
        Name = "Ann",
        Guild = "Smiths",
        Motto = "Onward",
        Level = 10,
        Luck = 0.5,
        Party = new[] { DoId.NewId() },
        CallSign = "fox",
    };

    /// <summary>Sets a field to a bad value and checks the error, that the value stayed and that no change was published.</summary>
    private static IReadOnlyList<string> AssertRejected<TValue>(Recruit recruit, string field, Func<Recruit, TValue> get, Action<Recruit> set)
    {
        var before = get(recruit);
        var changes = new List<FieldChange>();
        using var subscription = recruit.Changes.Subscribe(changes.Add);

        var error = Assert.ThrowsExactly<ModelValidationException>(() => set(recruit));

        Assert.AreEqual(nameof(Recruit), error.ModelName);
        CollectionAssert.AreEqual(new[] { field }, error.Errors.Keys.ToArray());
        Assert.IsNotEmpty(error.Errors[field]);
        StringAssert.Contains(error.Message, field);
        Assert.AreEqual(before, get(recruit), "A rejected value leaves the field unchanged.");
        Assert.IsEmpty(changes, "A rejected value publishes no change.");
        return error.Errors[field];
    }

    [TestMethod]
    public void ValidValues_AreApplied()
    {
        var recruit = ValidRecruit();

        recruit.FullClean();
        Assert.AreEqual("Ann", recruit.Name);
        Assert.AreEqual(10, recruit.Level);
    }

    [TestMethod]
    [DataRow(0)]
    [DataRow(100)]
    [DataRow(int.MinValue)]
    public void Set_IntOutsideRange_Throws_AndLeavesValueUnchanged(int level)
    {
        var messages = AssertRejected(ValidRecruit(), nameof(Recruit.Level), r => r.Level, r => r.Level = level);

        Assert.AreEqual("The field Level must be between 1 and 99.", messages.Single());
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(99)]
    public void Set_IntAtRangeLimits_IsAccepted(int level)
    {
        var recruit = ValidRecruit();

        recruit.Level = level;

        Assert.AreEqual(level, recruit.Level);
    }

    [TestMethod]
    [DataRow(-0.001)]
    [DataRow(1.001)]
    [DataRow(double.NaN)]
    [DataRow(double.PositiveInfinity)]
    public void Set_DoubleOutsideRange_Throws_AndLeavesValueUnchanged(double luck)
    {
        AssertRejected(ValidRecruit(), nameof(Recruit.Luck), r => r.Luck, r => r.Luck = luck);
    }

    [TestMethod]
    public void Set_StringLongerThanMaxLength_Throws_AndLeavesValueUnchanged()
    {
        var messages = AssertRejected(ValidRecruit(), nameof(Recruit.Name), r => r.Name, r => r.Name = "Bartholomew");

        StringAssert.Contains(messages.Single(), "maximum length of '8'");
    }

    [TestMethod]
    public void Set_StringShorterThanMinLength_Throws_AndLeavesValueUnchanged()
    {
        var messages = AssertRejected(ValidRecruit(), nameof(Recruit.Guild), r => r.Guild, r => r.Guild = "AB");

        StringAssert.Contains(messages.Single(), "minimum length of '3'");
    }

    [TestMethod]
    [DataRow("A")]
    [DataRow("Forever")]
    public void Set_StringOutsideStringLength_Throws_AndLeavesValueUnchanged(string motto)
    {
        var messages = AssertRejected(ValidRecruit(), nameof(Recruit.Motto), r => r.Motto, r => r.Motto = motto);

        StringAssert.Contains(messages.Single(), "Motto");
    }

    [TestMethod]
    [DataRow("Go")]
    [DataRow("Onward")]
    public void Set_StringInsideStringLength_IsAccepted(string motto)
    {
        var recruit = ValidRecruit();

        recruit.Motto = motto;

        Assert.AreEqual(motto, recruit.Motto);
    }

    [TestMethod]
    public void Set_ArrayOutsideMinAndMaxLength_Throws_AndLeavesValueUnchanged()
    {
        var recruit = ValidRecruit();

        AssertRejected(recruit, nameof(Recruit.Party), r => r.Party.Length, r => r.Party = Array.Empty<DoId>());
        AssertRejected(recruit, nameof(Recruit.Party), r => r.Party.Length, r => r.Party = new DoId[4]);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("   ")]
    [DataRow(null)]
    public void Set_RequiredStringToEmpty_Throws_AndLeavesValueUnchanged(string? name)
    {
        var messages = AssertRejected(ValidRecruit(), nameof(Recruit.Name), r => r.Name, r => r.Name = name!);

        Assert.AreEqual("The Name field is required.", messages.Single());
    }

    [TestMethod]
    public void Set_ValueFailingACustomValidator_Throws_WithItsMessage()
    {
        var messages = AssertRejected(ValidRecruit(), nameof(Recruit.Name), r => r.Name, r => r.Name = "An\u0007n");

        Assert.AreEqual("The Name field must not contain control characters.", messages.Single());
    }

    [TestMethod]
    public void Set_ValueFailingSeveralValidators_ReportsEveryMessage()
    {
        var messages = AssertRejected(ValidRecruit(), nameof(Recruit.Name), r => r.Name, r => r.Name = "Bart\u0007holomew");

        Assert.HasCount(2, messages);
        StringAssert.Contains(messages[0], "maximum length");
        StringAssert.Contains(messages[1], "control characters");
    }

    [TestMethod]
    public void CleanMethod_Normalises_BeforeTheValidatorsRun()
    {
        var recruit = ValidRecruit();

        recruit.Name = "   Isolde   ";

        Assert.AreEqual("Isolde", recruit.Name, "CleanName trims, so the trimmed value passes MaxLength(8).");
    }

    [TestMethod]
    public void CleanMethod_ReturnsTheStoredValue_AndTheChangeCarriesIt()
    {
        var recruit = ValidRecruit();
        var changes = new List<FieldChange>();
        using var subscription = recruit.Changes.Subscribe(changes.Add);

        recruit.CallSign = " wolf ";

        Assert.AreEqual("WOLF", recruit.CallSign);
        Assert.AreEqual("WOLF", changes.Single().NewValue);
        Assert.AreEqual("FOX", changes.Single().OldValue);
    }

    [TestMethod]
    public void CleanMethod_ThatRejects_Throws_WithItsMessage_AndLeavesValueUnchanged()
    {
        var messages = AssertRejected(ValidRecruit(), nameof(Recruit.CallSign), r => r.CallSign, r => r.CallSign = " Admin ");

        Assert.AreEqual("' Admin ' is reserved.", messages.Single());
    }

    [TestMethod]
    public void SetBoxed_RunsTheSameChecks()
    {
        var recruit = ValidRecruit();
        var level = recruit.Model.GetField(nameof(Recruit.Level));

        Assert.ThrowsExactly<ModelValidationException>(() => level.SetBoxed(recruit, 500));
        Assert.ThrowsExactly<ArgumentException>(() => level.SetBoxed(recruit, "ten"));
        Assert.AreEqual(10, recruit.Level);
    }

    [TestMethod]
    public void DecodeAndApply_WithValidation_RejectsLikeTheSetter()
    {
        var recruit = ValidRecruit();
        var level = recruit.Model.GetField(nameof(Recruit.Level));
        byte[] encoded = { 0xF4, 0x01, 0x00, 0x00 }; // 500, little-endian

        var error = Assert.ThrowsExactly<ModelValidationException>(() =>
        {
            var reader = new Wire.WireReader(encoded);
            level.DecodeAndApply(recruit, ref reader, ChangeOrigin.Remote, validate: true);
        });

        Assert.IsTrue(error.Errors.ContainsKey(nameof(Recruit.Level)));
        Assert.AreEqual(10, recruit.Level);
    }

    [TestMethod]
    public void RpcArguments_AreValidatedByTheParameterValidators()
    {
        var goblin = new Goblin();
        var taunt = goblin.Model.GetMethod(nameof(Goblin.Taunt));

        Assert.IsNull(taunt.ValidateArguments(goblin, new object?[] { "Oi", 1 }));
        var problems = taunt.ValidateArguments(goblin, new object?[] { new string('x', 41), 1 });

        Assert.IsNotNull(problems);
        CollectionAssert.AreEqual(new[] { "text" }, problems.Keys.ToArray());
    }
}
