namespace Pastry.Tests.Core;

/// <summary>Compares field values the way the wire does: floats bit for bit, DateTimes by ticks and kind, arrays by content.</summary>
internal static class ValueAssert
{
    public static void AreIdentical(object? expected, object? actual, string context)
    {
        switch (expected)
        {
            case null:
                Assert.IsNull(actual, context);
                break;
            case float f:
                Assert.IsInstanceOfType<float>(actual, context);
                Assert.AreEqual(BitConverter.SingleToInt32Bits(f), BitConverter.SingleToInt32Bits((float)actual), $"{context}: {f} must keep its bits");
                break;
            case double d:
                Assert.IsInstanceOfType<double>(actual, context);
                Assert.AreEqual(BitConverter.DoubleToInt64Bits(d), BitConverter.DoubleToInt64Bits((double)actual), $"{context}: {d} must keep its bits");
                break;
            case DateTime t:
                Assert.IsInstanceOfType<DateTime>(actual, context);
                Assert.AreEqual(t.Ticks, ((DateTime)actual).Ticks, context);
                Assert.AreEqual(t.Kind, ((DateTime)actual).Kind, context);
                break;
            case Array array:
                Assert.IsNotNull(actual, context);
                Assert.AreEqual(expected.GetType(), actual.GetType(), context);
                var other = (Array)actual;
                Assert.AreEqual(array.Length, other.Length, $"{context}: length");
                for (int i = 0; i < array.Length; i++)
                {
                    AreIdentical(array.GetValue(i), other.GetValue(i), $"{context}[{i}]");
                }

                break;
            default:
                Assert.AreEqual(expected, actual, context);
                break;
        }
    }
}
