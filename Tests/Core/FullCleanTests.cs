using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>FullClean checks the whole object, as Django's full_clean does, and reports every problem at once.</summary>
[TestClass]
public sealed class FullCleanTests
{
    private static readonly DateTime Monday = new(2024, 6, 3, 8, 0, 0, DateTimeKind.Utc);

    private static Expedition ValidExpedition() => new()
    {
        Leader = "Ann",
        Budget = 100,
        Members = 3,
        Start = Monday,
        End = Monday.AddDays(2),
    };

    [TestMethod]
    public void FullClean_OfAValidObject_DoesNotThrow()
    {
        ValidExpedition().FullClean();
    }

    [TestMethod]
    public void FullClean_ReportsRequiredFieldsNeverAssigned_ValueTypesToo()
    {
        var expedition = new Expedition { Members = 3 };

        var error = Assert.ThrowsExactly<ModelValidationException>(expedition.FullClean);

        CollectionAssert.AreEquivalent(new[] { nameof(Expedition.Leader), nameof(Expedition.Budget) }, error.Errors.Keys.ToArray());
        Assert.AreEqual("This field is required.", error.Errors[nameof(Expedition.Budget)].Single());
        Assert.AreEqual("This field is required.", error.Errors[nameof(Expedition.Leader)].Single());
    }

    [TestMethod]
    public void FullClean_AcceptsARequiredValueTypeAssignedItsDefault()
    {
        var expedition = ValidExpedition();
        expedition.Budget = 0;

        expedition.FullClean();

        Assert.IsTrue(expedition.IsAssigned(expedition.Model.GetField(nameof(Expedition.Budget))));
    }

    [TestMethod]
    public void FullClean_RunsValidatorsOnTheCurrentValue_EvenIfNeverSet()
    {
        var expedition = new Expedition { Leader = "Ann", Budget = 1 };

        var error = Assert.ThrowsExactly<ModelValidationException>(expedition.FullClean);

        Assert.AreEqual("The field Members must be between 1 and 10.", error.Errors[nameof(Expedition.Members)].Single());
        Assert.HasCount(1, error.Errors);
    }

    [TestMethod]
    public void FullClean_RunsValidatorsOnValuesThatArrivedUnvalidated()
    {
        var expedition = ValidExpedition();
        var members = expedition.Model.GetField(nameof(Expedition.Members));
        using var writer = new PooledBufferWriter();
        writer.WriteInt32(50);
        var reader = new WireReader(writer.WrittenSpan);
        members.DecodeAndApply(expedition, ref reader, ChangeOrigin.Remote, validate: false);

        var error = Assert.ThrowsExactly<ModelValidationException>(expedition.FullClean);

        Assert.AreEqual(50, expedition.Members);
        CollectionAssert.AreEqual(new[] { nameof(Expedition.Members) }, error.Errors.Keys.ToArray());
    }

    [TestMethod]
    public void FullClean_PutsACleanErrorWithoutMembers_UnderTheObjectKey()
    {
        var expedition = ValidExpedition();
        expedition.Leader = Expedition.NoLeader;

        var error = Assert.ThrowsExactly<ModelValidationException>(expedition.FullClean);

        CollectionAssert.AreEqual(new[] { "__all__" }, error.Errors.Keys.ToArray());
        Assert.AreEqual("An expedition needs a leader.", error.Errors[ModelValidationException.ObjectKey].Single());
    }

    [TestMethod]
    public void FullClean_PutsACleanErrorWithMembers_UnderEachMember()
    {
        var expedition = ValidExpedition();
        expedition.End = Monday.AddDays(-1);

        var error = Assert.ThrowsExactly<ModelValidationException>(expedition.FullClean);

        CollectionAssert.AreEquivalent(new[] { nameof(Expedition.Start), nameof(Expedition.End) }, error.Errors.Keys.ToArray());
        Assert.AreEqual("The expedition must end after it starts.", error.Errors[nameof(Expedition.Start)].Single());
        Assert.AreEqual("The expedition must end after it starts.", error.Errors[nameof(Expedition.End)].Single());
    }

    [TestMethod]
    public void FullClean_MergesAModelValidationExceptionFromClean()
    {
        var expedition = ValidExpedition();
        expedition.Members = 8;
        expedition.Sealed = true;

        var error = Assert.ThrowsExactly<ModelValidationException>(expedition.FullClean);

        Assert.AreEqual("A sealed expedition takes at most 5 members.", error.Errors[nameof(Expedition.Members)].Single());
    }

    [TestMethod]
    public void FullClean_ReportsEveryProblemAtOnce()
    {
        var expedition = new Expedition { Leader = Expedition.NoLeader };
        var members = expedition.Model.GetField(nameof(Expedition.Members));
        using var writer = new PooledBufferWriter();
        writer.WriteInt32(11);
        var reader = new WireReader(writer.WrittenSpan);
        members.DecodeAndApply(expedition, ref reader, ChangeOrigin.Remote, validate: false);

        var error = Assert.ThrowsExactly<ModelValidationException>(expedition.FullClean);

        Assert.AreEqual("This field is required.", error.Errors[nameof(Expedition.Budget)].Single());
        Assert.AreEqual("The field Members must be between 1 and 10.", error.Errors[nameof(Expedition.Members)].Single());
        Assert.AreEqual("An expedition needs a leader.", error.Errors[ModelValidationException.ObjectKey].Single());
        Assert.HasCount(3, error.Errors);
        StringAssert.Contains(error.Message, "Budget: This field is required.");
        StringAssert.Contains(error.Message, "__all__: An expedition needs a leader.");
    }

    [TestMethod]
    public void FullClean_ChangesNothing()
    {
        var expedition = new Expedition { Members = 3 };
        var changes = new List<FieldChange>();
        using var subscription = expedition.Changes.Subscribe(changes.Add);

        Assert.ThrowsExactly<ModelValidationException>(expedition.FullClean);

        Assert.IsEmpty(changes);
        Assert.IsFalse(expedition.IsAssigned(expedition.Model.GetField(nameof(Expedition.Leader))));
        Assert.AreEqual(3, expedition.Members);
    }
}
