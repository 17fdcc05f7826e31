// Models declared in the short form (C# partial properties whose bodies Pastry.Core.Generators writes), beside their
// hand-written twins. The twins live in generic holders so that assembly scanning skips them (see Tests/Core/TestModels.cs).
using System.ComponentModel.DataAnnotations;

namespace Pastry.Tests.Generators
{
    /// <summary>Every kind of field in the short form, one written out by hand in the middle, a clean method and an RPC.</summary>
    public sealed partial class Tankard : DistributedObject<Tankard>
    {
        [Required, Ram, Broadcast, MaxLength(24)]
        public partial string Name { get; set; }

        [Ram, Db, Ai, Range(0, 100)]
        public partial int Sips { get; set; }

        [Ram, Broadcast, ClSend, MaxLength(3)]
        public float[] Foam { get => Get<float[]>(); set => Set(value); }

        [Db, OwnSend]
        public partial byte[] Crest { get; set; }

        [Ram]
        public partial DoId Brewer { get; set; }

        [Db, Ai]
        public partial DateTime Filled { get; set; }

        [Ram]
        public partial string[] Toasts { get; set; }

        /// <summary>Not a field: no keywords, no body generated, local only.</summary>
        [NotDistributed]
        public string Note { get; set; } = string.Empty;

        [Distributed, ClSend]
        public void Clink(string to)
        {
        }

        private string CleanName(string value) => value.Trim();
    }

    /// <summary>The same two models, once in each form, nested in a partial generic holder (the generator writes the holder too).</summary>
    public static partial class Twins<TScope>
    {
        public static partial class Short
        {
            public sealed partial class Flagon : DistributedObject<Flagon>
            {
                [Required, Ram, Broadcast, MaxLength(24)]
                public partial string Name { get; set; }

                [Ram, Db, Ai, Range(0, 100)]
                public partial int Sips { get; set; }

                [Ram, Broadcast, ClSend]
                public partial float[] Foam { get; set; }
            }
        }

        public static class Long
        {
            public sealed class Flagon : DistributedObject<Flagon>
            {
                [Required, Ram, Broadcast, MaxLength(24)]
                public string Name { get => Get<string>(); set => Set(value); }

                [Ram, Db, Ai, Range(0, 100)]
                public int Sips { get => Get<int>(); set => Set(value); }

                [Ram, Broadcast, ClSend]
                public float[] Foam { get => Get<float[]>(); set => Set(value); }
            }
        }
    }
}
