// Models used by the Pastry.Core unit tests. Class names are model names, so each one is unique in this assembly:
// ModelRegistry.FromAssemblies(test assembly) must keep working for every test that scans it.
//
// Declarations that must fail, and same-named variants for the schema tests, are nested in generic holder classes
// (Declarations<TScope>, Variant<TScope>): FromAssemblies skips open generic types, so scanning never trips over
// them, and the tests name them one by one with FromTypes (for example typeof(Declarations<int>.NonVoidRpc)).
using System.ComponentModel.DataAnnotations;

namespace Pastry.Tests.Core
{
    /// <summary>A base model class: its fields come before the fields of the classes that derive from it.</summary>
    public abstract class CreatureBase<T> : DistributedObject<T>
        where T : CreatureBase<T>
    {
        [Required, Ram, Broadcast]
        public string Species { get => Get<string>(); set => Set(value); }

        [Ram, Db]
        public int Level { get => Get<int>(); set => Set(value); }
    }

    /// <summary>A model with a base class, every keyword kind, validators, excluded properties and RPCs.</summary>
    public sealed class Goblin : CreatureBase<Goblin>
    {
        [Db, Ai, Range(0, 1_000_000)]
        public int Gold { get => Get<int>(); set => Set(value); }

        [Ram, Broadcast, ClSend]
        public float[] Position { get => Get<float[]>(); set => Set(value); }

        [Db, OwnSend, MaxLength(32)]
        public byte[] Appearance { get => Get<byte[]>(); set => Set(value); }

        /// <summary>Relayed, not stored: no keyword at all.</summary>
        public long Mood { get => Get<long>(); set => Set(value); }

        [NotDistributed]
        public string Nickname { get; set; } = string.Empty;

        public string Title => Species + " level " + Level;

        [NotDistributed]
        public string LastTaunt { get; private set; } = string.Empty;

        [Distributed, ClSend, Broadcast]
        public void Taunt([MaxLength(40)] string text, int volume) => LastTaunt = text + new string('!', volume);

        [Distributed, Ai]
        public void Reward(int gold, DoId giver)
        {
        }
    }

    /// <summary>A stateless service-like model with an anonymous RPC.</summary>
    public sealed class Gatekeeper : DistributedObject<Gatekeeper>
    {
        [Distributed, ClSend, Anonymous]
        public void Knock(string password)
        {
        }

        [Distributed, OwnSend]
        public void Leave()
        {
        }
    }

    /// <summary>One field of every supported type, and an RPC that takes one argument of many types.</summary>
    public sealed class Strongbox : DistributedObject<Strongbox>
    {
        [Ram] public int Int32Value { get => Get<int>(); set => Set(value); }
        [Ram] public long Int64Value { get => Get<long>(); set => Set(value); }
        [Ram] public float SingleValue { get => Get<float>(); set => Set(value); }
        [Ram] public double DoubleValue { get => Get<double>(); set => Set(value); }
        [Ram] public bool BoolValue { get => Get<bool>(); set => Set(value); }
        [Ram] public string StringValue { get => Get<string>(); set => Set(value); }
        [Ram] public byte[] BytesValue { get => Get<byte[]>(); set => Set(value); }
        [Ram] public DateTime DateTimeValue { get => Get<DateTime>(); set => Set(value); }
        [Ram] public DoId DoIdValue { get => Get<DoId>(); set => Set(value); }
        [Ram] public int[] Int32Array { get => Get<int[]>(); set => Set(value); }
        [Ram] public long[] Int64Array { get => Get<long[]>(); set => Set(value); }
        [Ram] public float[] SingleArray { get => Get<float[]>(); set => Set(value); }
        [Ram] public double[] DoubleArray { get => Get<double[]>(); set => Set(value); }
        [Ram] public bool[] BoolArray { get => Get<bool[]>(); set => Set(value); }
        [Ram] public string[] StringArray { get => Get<string[]>(); set => Set(value); }
        [Ram] public byte[][] BytesArray { get => Get<byte[][]>(); set => Set(value); }
        [Ram] public DateTime[] DateTimeArray { get => Get<DateTime[]>(); set => Set(value); }
        [Ram] public DoId[] DoIdArray { get => Get<DoId[]>(); set => Set(value); }

        [Distributed, Ai]
        public void Stash(int count, long weight, float width, double value, bool cursed, string label, byte[] seal, DateTime when, DoId owner, string[] tags, DoId[] witnesses)
        {
        }
    }

    /// <summary>Rejects strings that contain control characters: a custom DataAnnotations validator.</summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
    public sealed class NoControlCharactersAttribute : ValidationAttribute
    {
        public NoControlCharactersAttribute()
            : base("The {0} field must not contain control characters.")
        {
        }

        protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
            value is string text && text.Any(char.IsControl)
                ? new ValidationResult(FormatErrorMessage(validationContext.DisplayName), new[] { validationContext.MemberName ?? string.Empty })
                : ValidationResult.Success;
    }

    /// <summary>Field validators and clean methods, one concern per field.</summary>
    public sealed class Recruit : DistributedObject<Recruit>
    {
        public const string ForbiddenCallSign = "admin";

        /// <summary>Cleaned by <see cref="CleanName"/> (trim) before MaxLength runs.</summary>
        [Required, Ram, MaxLength(8), NoControlCharacters]
        public string Name { get => Get<string>(); set => Set(value); }

        [Ram, MinLength(3)]
        public string Guild { get => Get<string>(); set => Set(value); }

        [Ram, StringLength(6, MinimumLength = 2)]
        public string Motto { get => Get<string>(); set => Set(value); }

        [Ram, Range(1, 99)]
        public int Level { get => Get<int>(); set => Set(value); }

        [Ram, Range(0.0, 1.0)]
        public double Luck { get => Get<double>(); set => Set(value); }

        [Ram, MinLength(1), MaxLength(3)]
        public DoId[] Party { get => Get<DoId[]>(); set => Set(value); }

        /// <summary>Rejected by <see cref="CleanCallSign"/> when it is <see cref="ForbiddenCallSign"/>; upper-cased otherwise.</summary>
        [Ram]
        public string CallSign { get => Get<string>(); set => Set(value); }

        private string CleanName(string value) => value.Trim();

        private string CleanCallSign(string value) =>
            string.Equals(value.Trim(), ForbiddenCallSign, StringComparison.OrdinalIgnoreCase)
                ? throw new ValidationException($"'{value}' is reserved.")
                : value.Trim().ToUpperInvariant();
    }

    /// <summary>Required fields (a value type among them), a validator that the default fails, and an object-level Clean().</summary>
    public sealed class Expedition : DistributedObject<Expedition>
    {
        public const string NoLeader = "nobody";

        [Required, Ram]
        public string Leader { get => Get<string>(); set => Set(value); }

        [Required, Ram]
        public int Budget { get => Get<int>(); set => Set(value); }

        [Ram, Range(1, 10)]
        public int Members { get => Get<int>(); set => Set(value); }

        [Ram]
        public DateTime Start { get => Get<DateTime>(); set => Set(value); }

        [Ram]
        public DateTime End { get => Get<DateTime>(); set => Set(value); }

        [Ram]
        public bool Sealed { get => Get<bool>(); set => Set(value); }

        protected override void Clean()
        {
            if (End < Start)
            {
                throw new ValidationException(new ValidationResult("The expedition must end after it starts.", new[] { nameof(Start), nameof(End) }), null, null);
            }

            if (Leader == NoLeader)
            {
                throw new ValidationException("An expedition needs a leader.");
            }

            if (Sealed && Members > 5)
            {
                throw new ModelValidationException(nameof(Expedition), nameof(Members), "A sealed expedition takes at most 5 members.");
            }
        }
    }

    // These declarations are wrong on purpose, to test the registry's own checks; the PASTRY0xx analyzers would
    // stop the build on them (Tests/Generators/DeclarationAnalyzerTests.cs tests the analyzers on the same mistakes).
#pragma warning disable PASTRY001, PASTRY002, PASTRY003, PASTRY005, PASTRY007

    /// <summary>Declarations that registration must reject, hidden from assembly scanning (see the top of this file).</summary>
    public static class Declarations<TScope>
    {
        public sealed class AiAndClSendField : DistributedObject<AiAndClSendField>
        {
            [Ai, ClSend]
            public int Gold { get => Get<int>(); set => Set(value); }
        }

        public sealed class AiAndOwnSendField : DistributedObject<AiAndOwnSendField>
        {
            [Ai, OwnSend]
            public int Gold { get => Get<int>(); set => Set(value); }
        }

        public sealed class ClSendAndOwnSendField : DistributedObject<ClSendAndOwnSendField>
        {
            [ClSend, OwnSend]
            public int Gold { get => Get<int>(); set => Set(value); }
        }

        public sealed class AiAndClSendMethod : DistributedObject<AiAndClSendMethod>
        {
            [Distributed, Ai, ClSend]
            public void Poke()
            {
            }
        }

        public sealed class DecimalField : DistributedObject<DecimalField>
        {
            [Ram]
            public decimal Price { get => Get<decimal>(); set => Set(value); }
        }

        public sealed class ListField : DistributedObject<ListField>
        {
            [Ram]
            public List<int> Scores { get => Get<List<int>>(); set => Set(value); }
        }

        public sealed class CleanReturnsWrongType : DistributedObject<CleanReturnsWrongType>
        {
            [Ram]
            public string Name { get => Get<string>(); set => Set(value); }

            private int CleanName(string value) => value.Length;
        }

        public sealed class CleanIsStatic : DistributedObject<CleanIsStatic>
        {
            [Ram]
            public string Name { get => Get<string>(); set => Set(value); }

            private static string CleanName(string value) => value;
        }

        public sealed class NonVoidRpc : DistributedObject<NonVoidRpc>
        {
            [Distributed, ClSend]
            public int Ping() => 1;
        }

        public sealed class UnsupportedRpcParameter : DistributedObject<UnsupportedRpcParameter>
        {
            [Distributed, ClSend]
            public void Pay(decimal amount)
            {
            }
        }

        /// <summary>Names another model as its type argument.</summary>
        public sealed class WrongSelf : DistributedObject<Recruit>
        {
        }

        /// <summary>Three problems at once; all must be reported.</summary>
        public sealed class ThreeProblems : DistributedObject<ThreeProblems>
        {
            [Ai, ClSend]
            public int Gold { get => Get<int>(); set => Set(value); }

            [Ram]
            public decimal Price { get => Get<decimal>(); set => Set(value); }

            [Distributed]
            public string Echo(string text) => text;
        }
    }

#pragma warning restore PASTRY001, PASTRY002, PASTRY003, PASTRY005, PASTRY007
}

// Same-named models for the schema tests. Each namespace holds one variant of "Lantern"; VariantBase is the
// reference and every other variant differs from it in exactly one way.
namespace Pastry.Tests.Core.VariantBase
{
    using System.ComponentModel.DataAnnotations;

    public static class Variant<TScope>
    {
        public sealed class Lantern : DistributedObject<Lantern>
        {
            [Required, Ram]
            public int Brightness { get => Get<int>(); set => Set(value); }

            [Ram, Broadcast, MaxLength(16)]
            public string Color { get => Get<string>(); set => Set(value); }
        }
    }
}

namespace Pastry.Tests.Core.VariantExtraKeyword
{
    using System.ComponentModel.DataAnnotations;

    public static class Variant<TScope>
    {
        public sealed class Lantern : DistributedObject<Lantern>
        {
            [Required, Ram, Db]
            public int Brightness { get => Get<int>(); set => Set(value); }

            [Ram, Broadcast, MaxLength(16)]
            public string Color { get => Get<string>(); set => Set(value); }
        }
    }
}

namespace Pastry.Tests.Core.VariantFieldOrder
{
    using System.ComponentModel.DataAnnotations;

    public static class Variant<TScope>
    {
        public sealed class Lantern : DistributedObject<Lantern>
        {
            [Ram, Broadcast, MaxLength(16)]
            public string Color { get => Get<string>(); set => Set(value); }

            [Required, Ram]
            public int Brightness { get => Get<int>(); set => Set(value); }
        }
    }
}

namespace Pastry.Tests.Core.VariantFieldType
{
    using System.ComponentModel.DataAnnotations;

    public static class Variant<TScope>
    {
        public sealed class Lantern : DistributedObject<Lantern>
        {
            [Required, Ram]
            public long Brightness { get => Get<long>(); set => Set(value); }

            [Ram, Broadcast, MaxLength(16)]
            public string Color { get => Get<string>(); set => Set(value); }
        }
    }
}
