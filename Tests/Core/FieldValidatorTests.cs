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

    /// <summary>
    /// Checks the fast path's answer against DataAnnotations itself, and that a refusal is the attribute's message
    /// naming the field.
    /// </summary>
    private static void AssertAgreesWithDataAnnotations<TValue>(ValidationAttribute attribute, TValue value, bool valid)
    {
        var context = new ValidationContext(Target) { MemberName = "Field", DisplayName = "Field" };
        Assert.AreEqual(valid, attribute.GetValidationResult(value, context) == ValidationResult.Success, "DataAnnotations' own answer (the test's premise).");

        string? problem = FieldValidator<TValue>.Create(attribute, "Field").Validate(Target, value);

        if (valid)
        {
            Assert.IsNull(problem);
        }
        else
        {
            Assert.AreEqual(attribute.FormatErrorMessage("Field"), problem);
        }
    }
}
