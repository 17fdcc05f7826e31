using System.Buffers;
using System.ComponentModel.DataAnnotations;
using Pastry.Wire;

namespace Pastry.Tests.Core;

/// <summary>
/// What the field and method descriptors, a distributed object and an RPC call do for a game's code: keyword flags,
/// boxed access, clean outcomes, the binding hooks around a local set, optional and validated RPC parameters,
/// stale objects, and the texts of objects and calls in logs.
/// </summary>
[TestClass]
public sealed class DescriptorBehaviourTests
{
    private static ModelInfo Ledger => ModelInfo.For<WellDeclared<int>.Ledger>();

    [TestMethod]
    public void FieldFlags_FollowEachFieldsOwnKeywords()
    {
        string Flags(FieldDescriptor f) =>
            $"{f.Name}:{(f.IsRequired ? "R" : "-")}{(f.IsRam ? "M" : "-")}{(f.IsDb ? "D" : "-")}{(f.IsBroadcast ? "B" : "-")}{(f.IsClSend ? "C" : "-")}{(f.IsOwnSend ? "O" : "-")}{(f.IsAi ? "A" : "-")}{(f.IsStored ? "S" : "-")}";

        CollectionAssert.AreEqual(
            new[] { "Gold:RM-B---S", "Note:--D--O--", "Seen:-M--C--S", "Keeper:-M----AS", "Tag:-M-----S" },
            Ledger.Fields.Select(Flags).ToArray());
        Assert.AreEqual("Ledger.Note", Ledger.GetField("Note").ToString());
    }

    [TestMethod]
    public void MethodFlags_FollowEachMethodsOwnKeywords()
    {
        string Flags(MethodDescriptor m) =>
            $"{m.Name}:{(m.IsBroadcast ? "B" : "-")}{(m.IsClSend ? "C" : "-")}{(m.IsOwnSend ? "O" : "-")}{(m.IsAnonymous ? "N" : "-")}";

        CollectionAssert.AreEqual(new[] { "Say:-C-N", "Shout:--O-", "Ring:B---" }, Ledger.Methods.Select(Flags).ToArray());
        Assert.AreEqual("Ledger.Shout", Ledger.GetMethod("Shout").ToString());
    }

    [TestMethod]
    public void SetBoxed_RefusesAnotherType_AndTakesNullAsTheDefault()
    {
        var ledger = new WellDeclared<int>.Ledger { Gold = 5, Tag = "x" };
        var gold = Ledger.GetField("Gold");

        var error = Assert.ThrowsExactly<ArgumentException>(() => gold.SetBoxed(ledger, "5"));
        Assert.AreEqual("Ledger.Gold is of type Int32; got a String. (Parameter 'value')", error.Message);
        Assert.AreEqual(5, ledger.Gold);

        gold.SetBoxed(ledger, null);
        Ledger.GetField("Tag").SetBoxed(ledger, null);
        Assert.AreEqual(0, ledger.Gold);
        Assert.AreEqual(string.Empty, ledger.Tag);
        Assert.AreEqual(0, gold.GetBoxed(ledger));
    }

    [TestMethod]
    public void CleanMethod_Outcomes_BecomeTheFieldsProblems()
    {
        var ledger = new WellDeclared<int>.Ledger { Tag = "kept" };

        var argument = Assert.ThrowsExactly<ModelValidationException>(() => ledger.Tag = "argument");
        CollectionAssert.AreEqual(new[] { "Tag is not an argument." }, argument.Errors["Tag"].ToArray());
        var model = Assert.ThrowsExactly<ModelValidationException>(() => ledger.Tag = "model");
        CollectionAssert.AreEqual(new[] { "Tag is taken." }, model.Errors["Tag"].ToArray());

        // The clean method returns an Unspecified DateTime: the codec refuses what clean produced.
        var seen = Assert.ThrowsExactly<ModelValidationException>(() => ledger.Seen = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        StringAssert.StartsWith(seen.Errors["Seen"].Single(), "DateTime values must be UTC");
        Assert.AreEqual("kept", ledger.Tag);
    }

    [TestMethod]
    public void Checked_CleansWithoutApplying_AndThrowsOnAProblem()
    {
        var recruit = new Recruit();
        var name = (FieldDescriptor<string>)ModelInfo.For<Recruit>().GetField("Name");

        Assert.AreEqual("Bob", name.Checked(recruit, "  Bob  "));
        Assert.IsFalse(recruit.IsAssigned(name));
        var error = Assert.ThrowsExactly<ModelValidationException>(() => name.Checked(recruit, "ninecharss"));
        Assert.AreEqual("Recruit", error.ModelName);
        Assert.IsTrue(error.Errors.ContainsKey("Name"));
    }

    [TestMethod]
    public void DecodeAndValidate_WritesTheCleanedValue_OnlyWhenItIsValid()
    {
        var recruit = new Recruit();
        var name = ModelInfo.For<Recruit>().GetField("Name");

        var good = Encode(StringCodec(), "  Bob  ");
        var cleaned = new ArrayBufferWriter<byte>();
        var reader = new WireReader(good);
        Assert.IsNull(name.DecodeAndValidate(ref reader, recruit, cleaned));
        CollectionAssert.AreEqual(Encode(StringCodec(), "Bob"), cleaned.WrittenSpan.ToArray());

        var bad = Encode(StringCodec(), "far too long a name");
        var untouched = new ArrayBufferWriter<byte>();
        reader = new WireReader(bad);
        Assert.IsNotNull(name.DecodeAndValidate(ref reader, recruit, untouched));
        Assert.AreEqual(0, untouched.WrittenCount, "An invalid value is not written as cleaned.");
    }

    [TestMethod]
    public void Binding_IsAskedBeforeALocalSet_AndToldOnlyWhenTheValueChanged()
    {
        var ledger = new WellDeclared<int>.Ledger();
        var binding = new RecordingBinding();
        ledger.Binding = binding;

        ledger.Gold = 5;
        ledger.Gold = 5;
        ledger.Gold = 6;

        CollectionAssert.AreEqual(new[] { "check Gold", "set Gold", "check Gold", "check Gold", "set Gold" }, binding.Calls);

        binding.Refuse = true;
        Assert.ThrowsExactly<InvalidOperationException>(() => ledger.Gold = 9);
        Assert.AreEqual(6, ledger.Gold, "A refused set changes nothing.");
    }

    [TestMethod]
    public void Parameters_KnowTheirDefaults_AndAnOlderCallerGetsThem()
    {
        var fresh = RegistryCheckTests.Fresh<WellDeclared<int>.Ledger>();
        var say = fresh.GetMethod("Say");
        var shout = fresh.GetMethod("Shout");

        Assert.IsFalse(say.Parameters[0].IsOptional);
        Assert.IsNull(say.Parameters[0].DefaultValue);
        Assert.IsTrue(say.Parameters[1].IsOptional);
        Assert.AreEqual(3, say.Parameters[1].DefaultValue);
        Assert.AreEqual("volume", say.Parameters[1].Name);
        Assert.IsInstanceOfType<NotBlank>(say.Parameters[0].Validators.Single());

        // A call that ends before the optional parameter gets its default; one that ends before a required one is refused.
        byte[] textOnly = Encode(StringCodec(), "hi");
        var reader = new WireReader(textOnly);
        CollectionAssert.AreEqual(new object?[] { "hi", 3 }, say.DecodeArguments(ref reader));
        reader = new WireReader(textOnly);
        try
        {
            shout.DecodeArguments(ref reader);
            Assert.Fail("A missing required argument must be refused.");
        }
        catch (WireFormatException)
        {
        }
    }

    [TestMethod]
    public void EncodeArguments_WithTheWrongCount_SaysHowManyItTakes()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => Ledger.GetMethod("Shout").EncodeArguments(new ArrayBufferWriter<byte>(), new object?[] { "hey" }));

        Assert.AreEqual("Ledger.Shout takes 2 argument(s); got 1. (Parameter 'arguments')", error.Message);
    }

    [TestMethod]
    public void ValidateArguments_ReportsEveryFailingParameter_ByItsName()
    {
        var ledger = new WellDeclared<int>.Ledger();
        var shout = Ledger.GetMethod("Shout");

        var problems = shout.ValidateArguments(ledger, new object?[] { "loud", 9 });

        Assert.IsNotNull(problems);
        CollectionAssert.AreEqual(new[] { "text", "volume" }, problems.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray());
        Assert.AreEqual("The field text must be a string or array type with a maximum length of '3'.", problems["text"].Single());
        Assert.AreEqual("The field volume must be between 1 and 5.", problems["volume"].Single());
        Assert.IsNull(shout.ValidateArguments(ledger, new object?[] { "hey", 5 }));
        Assert.AreEqual("The field text is invalid.", Ledger.GetMethod("Say").ValidateArguments(ledger, new object?[] { " ", 1 })!["text"].Single());
    }

    [TestMethod]
    public void ObjectText_NamesTheModelIdAndEveryField()
    {
        var ledger = new WellDeclared<int>.Ledger { Gold = 4, Tag = "t" };

        Assert.AreEqual(
            $"Ledger({ledger.DoId}) {{ Gold=4, Note=\"\", Seen=0001-01-01T00:00:00.0000000Z, Keeper={DoId.Empty}, Tag=\"t\" }}",
            ledger.ToString());
        var empty = new Gatekeeper();
        Assert.AreEqual($"Gatekeeper({empty.DoId}) {{ }}", empty.ToString());
    }

    [TestMethod]
    public void DoId_CanBeSetOnlyBeforeTheObjectIsCreated()
    {
        var ledger = new WellDeclared<int>.Ledger();
        var id = ledger.DoId;
        ledger.SetState(ObjectState.Live);

        var error = Assert.ThrowsExactly<InvalidOperationException>(() => ledger.DoId = DoId.NewId());

        Assert.AreEqual($"Ledger {id} is already live; its DoId can only be set before it is created.", error.Message);
        Assert.AreEqual(id, ledger.DoId);
    }

    [TestMethod]
    public void DisabledAndDeletedObjects_RefuseUse_WithTheirOwnException()
    {
        var disabled = new WellDeclared<int>.Ledger { Gold = 1 };
        var deleted = new WellDeclared<int>.Ledger { Gold = 1 };
        disabled.SetState(ObjectState.Disabled);
        deleted.SetState(ObjectState.Deleted);

        var off = Assert.ThrowsExactly<ObjectDisabledException>(() => disabled.Gold);
        Assert.AreEqual($"Ledger {disabled.DoId} is disabled: it left this client's interest. Add interest in its zone again to get a fresh copy.", off.Message);
        Assert.AreEqual(disabled.DoId, off.DoId);
        var gone = Assert.ThrowsExactly<ObjectDeletedException>(() => deleted.Gold);
        Assert.AreEqual($"Ledger {deleted.DoId} was deleted on the server; drop your reference to it.", gone.Message);
        Assert.AreEqual(deleted.DoId, gone.DoId);
        Assert.ThrowsExactly<ObjectDeletedException>(() => deleted.Gold = 2);
    }

    [TestMethod]
    public void Changes_ReachEveryObserver_AndADisabledObjectCompletesAtOnce()
    {
        var ledger = new WellDeclared<int>.Ledger();
        var first = new List<int>();
        var second = new List<int>();
        using var a = ledger.Observe(l => l.Gold).Subscribe(first.Add);
        using var b = ledger.Observe(l => l.Gold).Subscribe(second.Add);

        ledger.Gold = 3;

        CollectionAssert.AreEqual(new[] { 3 }, first);
        CollectionAssert.AreEqual(new[] { 3 }, second);

        ledger.SetState(ObjectState.Disabled);
        bool completed = false;
        using var late = ledger.Changes.Subscribe(_ => { }, () => completed = true);
        Assert.IsTrue(completed, "A disabled object has no more changes.");
    }

    [TestMethod]
    public void Observe_WithSomethingOtherThanAProperty_SaysWhatToPass()
    {
        var ledger = new WellDeclared<int>.Ledger();

        var error = Assert.ThrowsExactly<ArgumentException>(() => ledger.Observe(l => l.Gold + 1));

        Assert.AreEqual("Pass a property of the model, for example a => a.Gold. (Parameter 'property')", error.Message);
    }

    [TestMethod]
    public void RpcCall_ParsesALambda_EvaluatingItsArgumentsNow()
    {
        string text = "hey";
        int loud = 2;

        var (method, arguments) = RpcCall.Parse<WellDeclared<int>.Ledger>(l => l.Shout(text, loud + 1));

        Assert.AreSame(Ledger.GetMethod("Shout"), method);
        CollectionAssert.AreEqual(new object?[] { "hey", 3 }, arguments);
        var (ring, none) = RpcCall.Parse<WellDeclared<int>.Ledger>(l => l.Ring());
        Assert.AreEqual("Ring", ring.Name);
        Assert.IsEmpty(none);
        var (_, constants) = RpcCall.Parse<WellDeclared<int>.Ledger>(l => l.Say("hi", 'x'));
        CollectionAssert.AreEqual(new object?[] { "hi", 120 }, constants);
        short quiet = 1;
        var (_, widened) = RpcCall.Parse<WellDeclared<int>.Ledger>(l => l.Say("hi", quiet));
        Assert.AreEqual(1, widened[1], "A short passed to an int parameter arrives as the int the codec writes.");
        method.EncodeArguments(new ArrayBufferWriter<byte>(), new object?[] { "hey", widened[1] });
    }

    [TestMethod]
    public void RpcCall_Parse_RefusesACallThatIsNotOnTheLambdasParameter()
    {
        var other = new WellDeclared<int>.Ledger();

        var notParameter = Assert.ThrowsExactly<ArgumentException>(() => RpcCall.Parse<WellDeclared<int>.Ledger>(l => other.Ring()));
        Assert.AreEqual("Pass a call of a [Distributed] method on the lambda's parameter, for example k => k.Wave(\"hi\"). (Parameter 'call')", notParameter.Message);
        Assert.ThrowsExactly<ArgumentException>(() => RpcCall.Parse<WellDeclared<int>.Ledger>(l => Console.WriteLine()));
        Assert.ThrowsExactly<KeyNotFoundException>(() => RpcCall.Parse<WellDeclared<int>.Ledger>(l => l.FullClean()));
    }

    [TestMethod]
    public void RpcCall_Text_ShowsTheCallAsCodeWithItsSender()
    {
        var ledger = new WellDeclared<int>.Ledger();
        var sender = DoId.NewId();

        var call = new RpcCall(ledger, Ledger.GetMethod("Say"), new object?[] { "hi", 3 }, sender);

        Assert.AreEqual($"Ledger.Say(\"hi\", 3) from {sender}", call.ToString());
    }

    private static ValueCodec<string> StringCodec() => (ValueCodec<string>)ModelInfo.For<Recruit>().GetField("Name").Codec;

    private static byte[] Encode(ValueCodec<string> codec, string value)
    {
        var writer = new ArrayBufferWriter<byte>();
        codec.Write(writer, value);
        return writer.WrittenSpan.ToArray();
    }

    private sealed class RecordingBinding : IObjectBinding
    {
        public List<string> Calls { get; } = new();

        public bool Refuse { get; set; }

        public void CheckLocalSet(DistributedObject target, FieldDescriptor field)
        {
            if (Refuse)
            {
                throw new InvalidOperationException($"{field} may not be set here.");
            }

            Calls.Add("check " + field.Name);
        }

        public void OnLocalSet(DistributedObject target, FieldDescriptor field) => Calls.Add("set " + field.Name);
    }
}
