using System.ComponentModel.DataAnnotations;

namespace Pastry;

/// <summary>
/// One DataAnnotations validator bound to a field type. The common attributes (Range on numbers, MaxLength,
/// MinLength and StringLength on strings and arrays, Required on strings) are checked with typed code that neither
/// boxes nor allocates on success; any other <see cref="ValidationAttribute"/>, custom ones included, runs through
/// DataAnnotations itself. The error message always comes from the attribute, so it reads as DataAnnotations' own.
/// </summary>
internal sealed class FieldValidator<TValue>
{
    private readonly ValidationAttribute attribute;
    private readonly string fieldName;
    private readonly Func<TValue, bool>? fastCheck;

    private FieldValidator(ValidationAttribute attribute, string fieldName, Func<TValue, bool>? fastCheck)
    {
        this.attribute = attribute;
        this.fieldName = fieldName;
        this.fastCheck = fastCheck;
    }

    public static FieldValidator<TValue> Create(ValidationAttribute attribute, string fieldName) =>
        new(attribute, fieldName, BuildFastCheck(attribute));

    /// <summary>Returns null when the value is valid, else the attribute's message.</summary>
    public string? Validate(DistributedObject target, TValue value)
    {
        if (fastCheck is not null)
        {
            return fastCheck(value) ? null : attribute.FormatErrorMessage(fieldName);
        }

        var context = new ValidationContext(target) { MemberName = fieldName, DisplayName = fieldName };
        var result = attribute.GetValidationResult(value, context);
        return result == ValidationResult.Success || result is null ? null : result.ErrorMessage ?? attribute.FormatErrorMessage(fieldName);
    }

    private static Func<TValue, bool>? BuildFastCheck(ValidationAttribute attribute)
    {
        object? check = attribute switch
        {
            RangeAttribute range => BuildRange(range),
            MaxLengthAttribute max => BuildLength(length => max.Length < 0 || length <= max.Length),
            MinLengthAttribute min => BuildLength(length => length >= min.Length),
            StringLengthAttribute text when typeof(TValue) == typeof(string) =>
                (Func<string, bool>)(s => s.Length <= text.MaximumLength && s.Length >= text.MinimumLength),
            RequiredAttribute required when typeof(TValue) == typeof(string) =>
                (Func<string, bool>)(s => required.AllowEmptyStrings ? s is not null : !string.IsNullOrWhiteSpace(s)),
            RequiredAttribute when typeof(TValue).IsValueType || typeof(TValue).IsArray => (Func<TValue, bool>)(_ => true),
            _ => null,
        };
        return check as Func<TValue, bool>;
    }

    private static object? BuildLength(Func<int, bool> accept)
    {
        if (typeof(TValue) == typeof(string))
        {
            return (Func<string, bool>)(s => accept(s.Length));
        }

        if (typeof(TValue).IsArray)
        {
            return (Func<TValue, bool>)(a => accept(((Array)(object)a!).Length));
        }

        return null;
    }

    private static object? BuildRange(RangeAttribute range)
    {
#if NET8_0_OR_GREATER
        if (range.MinimumIsExclusive || range.MaximumIsExclusive || range.ParseLimitsInInvariantCulture || range.ConvertValueInInvariantCulture)
        {
            return null;
        }
#endif
        if (range.Minimum is not (int or double) || range.Maximum is not (int or double))
        {
            return null;
        }

        double min = Convert.ToDouble(range.Minimum, System.Globalization.CultureInfo.InvariantCulture);
        double max = Convert.ToDouble(range.Maximum, System.Globalization.CultureInfo.InvariantCulture);
        if (typeof(TValue) == typeof(int))
        {
            return (Func<int, bool>)(v => v >= min && v <= max);
        }

        if (typeof(TValue) == typeof(long))
        {
            return (Func<long, bool>)(v => v >= min && v <= max);
        }

        if (typeof(TValue) == typeof(float))
        {
            return (Func<float, bool>)(v => v >= min && v <= max);
        }

        if (typeof(TValue) == typeof(double))
        {
            return (Func<double, bool>)(v => v >= min && v <= max);
        }

        return null;
    }
}
