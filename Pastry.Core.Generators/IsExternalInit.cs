namespace System.Runtime.CompilerServices;

/// <summary>Lets netstandard2.0 compile records' init accessors (the type exists in the runtime since .NET 5).</summary>
internal static class IsExternalInit
{
}
