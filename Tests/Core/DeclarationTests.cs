namespace Pastry.Tests.Core;

/// <summary>Models declared wrongly fail at registration, with a message that says what is wrong and how to fix it.</summary>
[TestClass]
public sealed class DeclarationTests
{
    private static IReadOnlyList<string> ProblemsOf(params Type[] types)
    {
        var error = Assert.ThrowsExactly<ModelDeclarationException>(() => ModelRegistry.FromTypes(types));
        foreach (var problem in error.Problems)
        {
            StringAssert.Contains(error.Message, problem, "The message lists every problem.");
        }

        return error.Problems;
    }

    [TestMethod]
    public void Field_AiAndClSend_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.AiAndClSendField)).Single();

        StringAssert.StartsWith(problem, "AiAndClSendField.Gold is both [Ai]");
        StringAssert.Contains(problem, "[ClSend]");
    }

    [TestMethod]
    public void Field_AiAndOwnSend_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.AiAndOwnSendField)).Single();

        StringAssert.StartsWith(problem, "AiAndOwnSendField.Gold is both [Ai]");
        StringAssert.Contains(problem, "[OwnSend]");
    }

    [TestMethod]
    public void Field_ClSendAndOwnSend_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.ClSendAndOwnSendField)).Single();

        StringAssert.StartsWith(problem, "ClSendAndOwnSendField.Gold is both [ClSend] and [OwnSend]");
    }

    [TestMethod]
    public void Method_AiAndClSend_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.AiAndClSendMethod)).Single();

        StringAssert.StartsWith(problem, "AiAndClSendMethod.Poke is both [Ai]");
    }

    [TestMethod]
    public void Field_OfUnsupportedType_IsRejected_NamingClassPropertyAndType()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.DecimalField)).Single();

        StringAssert.StartsWith(problem, "DecimalField.Price has type decimal, which is not a field type.");
        StringAssert.Contains(problem, "Supported: int, long, float, double, bool, string, byte[], DateTime, DoId, and arrays of these");
        StringAssert.Contains(problem, "[NotDistributed]");
    }

    [TestMethod]
    public void Field_OfGenericCollectionType_IsRejected_NamingTheTypeAsCSharpWritesIt()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.ListField)).Single();

        StringAssert.StartsWith(problem, "ListField.Scores has type List<int>, which is not a field type.");
    }

    [TestMethod]
    public void CleanMethod_ReturningTheWrongType_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.CleanReturnsWrongType)).Single();

        StringAssert.StartsWith(problem, "CleanReturnsWrongType.CleanName has the wrong signature");
        StringAssert.Contains(problem, "'string CleanName(string value)'");
    }

    [TestMethod]
    public void CleanMethod_ThatIsStatic_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.CleanIsStatic)).Single();

        StringAssert.StartsWith(problem, "CleanIsStatic.CleanName has the wrong signature; declare it as the instance method");
    }

    [TestMethod]
    public void DistributedMethod_ReturningAValue_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.NonVoidRpc)).Single();

        StringAssert.StartsWith(problem, "NonVoidRpc.Ping is [Distributed] but returns int");
        StringAssert.Contains(problem, "must return void");
    }

    [TestMethod]
    public void DistributedMethod_WithUnsupportedParameterType_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.UnsupportedRpcParameter)).Single();

        StringAssert.StartsWith(problem, "UnsupportedRpcParameter.Pay parameter 'amount' has type decimal, which cannot be sent.");
    }

    [TestMethod]
    public void Model_WhoseTypeArgumentIsAnotherClass_IsRejected()
    {
        string problem = ProblemsOf(typeof(Declarations<int>.WrongSelf)).Single();

        StringAssert.Contains(problem, "WrongSelf");
        StringAssert.Contains(problem, " derives from DistributedObject<Recruit>; the type argument must be the class itself");
        StringAssert.Contains(problem, "'class WrongSelf : DistributedObject<WrongSelf>'");
    }

    [TestMethod]
    public void TwoModels_WithTheSameClassName_AreRejected()
    {
        string problem = ProblemsOf(
            typeof(VariantBase.Variant<int>.Lantern),
            typeof(VariantFieldType.Variant<int>.Lantern)).Single();

        StringAssert.StartsWith(problem, "Two models are named Lantern");
        StringAssert.Contains(problem, "Pastry.Tests.Core.VariantBase.");
        StringAssert.Contains(problem, "Pastry.Tests.Core.VariantFieldType.");
    }

    [TestMethod]
    public void EveryProblem_OfEveryModel_IsReportedAtOnce()
    {
        var problems = ProblemsOf(typeof(Goblin), typeof(Declarations<int>.ThreeProblems), typeof(Declarations<int>.NonVoidRpc));

        Assert.HasCount(4, problems);
        Assert.Contains(p => p.StartsWith("ThreeProblems.Gold is both [Ai]", StringComparison.Ordinal), problems);
        Assert.Contains(p => p.StartsWith("ThreeProblems.Price has type decimal", StringComparison.Ordinal), problems);
        Assert.Contains(p => p.StartsWith("ThreeProblems.Echo is [Distributed] but returns string", StringComparison.Ordinal), problems);
        Assert.Contains(p => p.StartsWith("NonVoidRpc.Ping", StringComparison.Ordinal), problems);
    }

    [TestMethod]
    public void ModelInfoFor_ABadModel_ThrowsEveryTime()
    {
        Assert.ThrowsExactly<ModelDeclarationException>(() => ModelInfo.For<Declarations<int>.NonVoidRpc>());
        Assert.ThrowsExactly<ModelDeclarationException>(() => ModelInfo.For<Declarations<int>.NonVoidRpc>());
    }

    [TestMethod]
    public void ModelInfoFor_ATypeThatIsNotAModel_IsRejected()
    {
        var error = Assert.ThrowsExactly<ModelDeclarationException>(() => ModelInfo.For(typeof(string)));

        StringAssert.Contains(error.Problems.Single(), "System.String is not a model");
    }
}
