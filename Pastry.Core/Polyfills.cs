#if !NET5_0_OR_GREATER
namespace System.Runtime.CompilerServices
{
    /// <summary>Lets netstandard2.1 builds use <c>init</c> accessors and records.</summary>
    internal static class IsExternalInit
    {
    }
}
#endif
