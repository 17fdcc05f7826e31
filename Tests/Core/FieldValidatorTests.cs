using System.ComponentModel.DataAnnotations;

namespace Pastry.Tests.Core;

/// <summary>
/// The typed fast checks behind the common DataAnnotations attributes (the 127 eject's first line of defence) give
/// the same answer as DataAnnotations at every bound: the value at a limit passes, one step past it fails with the
/// attribute's own message. Written from mutation testing: the model-level tests never set a value exactly at a
/// length limit nor used the unusual forms (unlimited MaxLength, AllowEmptyStrings, exclusive or string ranges).
/// </summary>
[TestClass]
public sealed class FieldValidatorTests
{
    private static readonly Recruit Target = new();

    [TestMethod]
    [DataRow(1, true)]
    [DataRow(99, true)]
    [DataRow(0, false)]
    [DataRow(100, false)]
    public void RangeOnInt_AcceptsBothBounds_AndNothingPast(int value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RangeAttribute(1, 99), value, valid);

    [TestMethod]
    [DataRow(1L, true)]
    [DataRow(99L, true)]
    [DataRow(0L, false)]
    [DataRow(100L, false)]
    public void RangeOnLong_AcceptsBothBounds_AndNothingPast(long value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RangeAttribute(1, 99), value, valid);

    [TestMethod]
    [DataRow(0.0f, true)]
    [DataRow(1.0f, true)]
    [DataRow(-0.001f, false)]
    [DataRow(1.001f, false)]
    public void RangeOnFloat_AcceptsBothBounds_AndNothingPast(float value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RangeAttribute(0.0, 1.0), value, valid);

    [TestMethod]
    [DataRow(0.0, true)]
    [DataRow(1.0, true)]
    [DataRow(-1e-9, false)]
    [DataRow(1.000000001, false)]
    public void RangeOnDouble_AcceptsBothBounds_AndNothingPast(double value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RangeAttribute(0.0, 1.0), value, valid);

    [TestMethod]
    [DataRow(0, false)]
    [DataRow(1, true)]
    [DataRow(10, false)]
    [DataRow(9, true)]
    public void AnExclusiveRange_IsLeftToDataAnnotations_AndExcludesItsBounds(int value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RangeAttribute(0, 10) { MinimumIsExclusive = true, MaximumIsExclusive = true }, value, valid);

    [TestMethod]
    [DataRow(0, false)]
    [DataRow(10, true)]
    public void ARangeExcludingOnlyItsMinimum_IsLeftToDataAnnotations(int value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RangeAttribute(0, 10) { MinimumIsExclusive = true }, value, valid);

    [TestMethod]
    [DataRow(5, true)]
    [DataRow(11, false)]
    public void ARangeWithStringBounds_IsLeftToDataAnnotations(int value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RangeAttribute(typeof(int), "0", "10"), value, valid);

    [TestMethod]
    [DataRow("abc", true)]
    [DataRow("abcd", false)]
    [DataRow("", true)]
    public void MaxLengthOnAString_AcceptsExactlyItsLength(string value, bool valid) =>
        AssertAgreesWithDataAnnotations(new MaxLengthAttribute(3), value, valid);

    [TestMethod]
    public void MaxLengthWithoutALength_AcceptsAnyLength() =>
        AssertAgreesWithDataAnnotations(new MaxLengthAttribute(), new string('x', 100_000), true);

    [TestMethod]
    [DataRow(3, true)]
    [DataRow(4, false)]
    public void MaxLengthOnAnArray_CountsItsElements(int length, bool valid) =>
        AssertAgreesWithDataAnnotations(new MaxLengthAttribute(3), new int[length], valid);

    [TestMethod]
    [DataRow("ab", true)]
    [DataRow("a", false)]
    public void MinLengthOnAString_AcceptsExactlyItsLength(string value, bool valid) =>
        AssertAgreesWithDataAnnotations(new MinLengthAttribute(2), value, valid);

    [TestMethod]
    [DataRow(2, true)]
    [DataRow(1, false)]
    public void MinLengthOnAnArray_CountsItsElements(int length, bool valid) =>
        AssertAgreesWithDataAnnotations(new MinLengthAttribute(2), new byte[length], valid);

    [TestMethod]
    [DataRow("ab", true)]
    [DataRow("abcdef", true)]
    [DataRow("a", false)]
    [DataRow("abcdefg", false)]
    public void StringLength_AcceptsBothBounds_AndNothingPast(string value, bool valid) =>
        AssertAgreesWithDataAnnotations(new StringLengthAttribute(6) { MinimumLength = 2 }, value, valid);

    [TestMethod]
    [DataRow("x", true)]
    [DataRow("", false)]
    [DataRow("   ", false)]
    public void RequiredString_RefusesEmptyAndBlank(string value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RequiredAttribute(), value, valid);

    [TestMethod]
    [DataRow("", true)]
    [DataRow("   ", true)]
    [DataRow(null, false)]
    public void RequiredStringAllowingEmpty_RefusesOnlyNull(string? value, bool valid) =>
        AssertAgreesWithDataAnnotations(new RequiredAttribute { AllowEmptyStrings = true }, value!, valid);

    [TestMethod]
    public void RequiredOnAValueOrAnArray_AlwaysPasses()
    {
        Assert.IsNull(FieldValidator<int>.Create(new RequiredAttribute(), "Level").Validate(Target, 0));
        Assert.IsNull(FieldValidator<int[]>.Create(new RequiredAttribute(), "Scores").Validate(Target, []));
    }

    [TestMethod]
    public void ACustomAttribute_RunsThroughDataAnnotations_WithItsOwnMessage()
    {
        var validator = FieldValidator<string>.Create(new NoControlCharactersAttribute(), "Name");

        Assert.IsNull(validator.Validate(Target, "Ann"));
        StringAssert.Contains(validator.Validate(Target, "A\u0001nn"), "Name");
    }

    [TestMethod]
    public void ACustomAttributesOwnResultMessage_IsTheOneReported()
    {
        var validator = FieldValidator<string>.Create(new SaysItsOwnThingAttribute(), "Name");

        Assert.AreEqual("nope, not this one", validator.Validate(Target, "x"));
    }

    /// <summary>
    /// The common attributes are checked by typed code that neither boxes nor allocates on success (the class's
    /// promise, and why the fast path exists: DataAnnotations allocates a context per call). A check that fell back to
    /// DataAnnotations would still answer right, so only the allocation shows it.
    /// </summary>
    [TestMethod]
    public void TheCommonAttributes_OnValidValues_AllocateNothing()
    {
        var checks = new List<Func<string?>>
        {
            Check(new RangeAttribute(1, 99), 5),
            Check(new RangeAttribute(1, 99), 5L),
            Check(new RangeAttribute(0.0, 1.0), 0.5f),
            Check(new RangeAttribute(0.0, 1.0), 0.5),
            Check(new MaxLengthAttribute(3), "abc"),
            Check(new MaxLengthAttribute(3), new int[3]),
            Check(new MinLengthAttribute(2), "ab"),
            Check(new MinLengthAttribute(2), new byte[2]),
            Check(new StringLengthAttribute(6) { MinimumLength = 2 }, "abc"),
            Check(new RequiredAttribute(), "x"),
            Check(new RequiredAttribute(), 0),
            Check(new RequiredAttribute(), new int[1]),
        };
        foreach (var check in checks)
        {
            for (int warm = 0; warm < 500; warm++)
            {
                Assert.IsNull(check());
            }
        }

        for (int i = 0; i < checks.Count; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int repeat = 0; repeat < 100; repeat++)
            {
                checks[i]();
            }

            Assert.AreEqual(0L, GC.GetAllocatedBytesForCurrentThread() - before, $"check {i} allocated: it is not on the typed fast path");
        }
    }

    private static Func<string?> Check<TValue>(ValidationAttribute attribute, TValue value)
    {
        var validator = FieldValidator<TValue>.Create(attribute, "Field");
        return () => validator.Validate(Target, value);
    }

    /// <summary>
    /// Checks the fast path's answer against DataAnnotations itself, and that a refusal is the attribute's message
    /// naming the field.
    /// </summary>
    private static void AssertAgreesWithDataAnnotations<TValue>(ValidationAttribute attribute, TValue value, bool valid)
    {
        // Created first: DataAnnotations' first use of a RangeAttribute with string bounds replaces them with numbers.
        var validator = FieldValidator<TValue>.Create(attribute, "Field");
        var context = new ValidationContext(Target) { MemberName = "Field", DisplayName = "Field" };
        Assert.AreEqual(valid, attribute.GetValidationResult(value, context) == ValidationResult.Success, "DataAnnotations' own answer (the test's premise).");

        string? problem = validator.Validate(Target, value);

        if (valid)
        {
            Assert.IsNull(problem);
        }
        else
        {
            Assert.AreEqual(attribute.FormatErrorMessage("Field"), problem);
        }
    }

    private sealed class SaysItsOwnThingAttribute : ValidationAttribute
    {
        protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) => new("nope, not this one");
    }
}
