using System.ComponentModel.DataAnnotations;

namespace Demo.Tavern.Models;

/// <summary>Rejects strings that hold control characters (new lines, escapes, bells), so chat and notices stay one clean line.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter | AttributeTargets.Field)]
public sealed class NoControlCharactersAttribute : ValidationAttribute
{
    /// <summary>Creates the validator with its default message.</summary>
    public NoControlCharactersAttribute()
        : base("The {0} field must not contain control characters.")
    {
    }

    /// <inheritdoc />
    public override bool IsValid(object? value) => value is not string text || !text.Any(char.IsControl);
}
