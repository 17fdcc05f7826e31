using System.ComponentModel.DataAnnotations;

namespace Demo.Tavern.Models;

/// <summary>
/// Rejects strings that hold control characters (new lines, escapes, bells), format characters (bidi overrides such as
/// U+202E, zero-width spaces and joiners, the byte-order mark) or line and paragraph separators, so that names, chat and
/// notices stay one clean line that reads the way it is stored: no one can pass for "Barliman" with an invisible
/// character, or reverse the rest of a line.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter | AttributeTargets.Field)]
public sealed class NoControlCharactersAttribute : ValidationAttribute
{
    /// <summary>Creates the validator with its default message.</summary>
    public NoControlCharactersAttribute()
        : base("The {0} field must not contain control, bidi or zero-width characters.")
    {
    }

    /// <inheritdoc />
    public override bool IsValid(object? value) => value is not string text || !text.Any(IsHidden);

    private static bool IsHidden(char c) => char.GetUnicodeCategory(c) is
        System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format
        or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator;
}
