using Pastry.Wire;

namespace Pastry.Ai;

/// <summary>
/// What a link proves to the Message Director in its handshake: the shared secret (<c>MessageDirector:Secret</c> on the
/// OTP), or with <see cref="Privileged"/> the privileged secret (<c>MessageDirector:PrivilegedSecret</c>), which lets the
/// link change any object. Without a secret the link is a participant of a loopback MD that has none.
/// </summary>
/// <param name="Secret">The secret to prove; empty for none. It is never sent, only an HMAC over two fresh nonces.</param>
/// <param name="Privileged">Whether <paramref name="Secret"/> is the privileged secret and the link asks to be privileged.</param>
public sealed record MessageDirectorCredentials(string Secret, bool Privileged = false)
{
    /// <summary>No secret: a participant of a loopback Message Director without <c>MessageDirector:Secret</c>.</summary>
    public static readonly MessageDirectorCredentials None = new(string.Empty);

    /// <summary>Keeps the secret out of logs and exception messages.</summary>
    public override string ToString() => $"MessageDirectorCredentials {{ Secret = {(Secret.Length == 0 ? "none" : "***")}, Privileged = {Privileged} }}";
}

/// <summary>The Message Director refused a link in its handshake; <see cref="Code"/> (360-364) and the message say why.</summary>
public sealed class MessageDirectorRefusedException : IOException
{
    /// <summary>Creates the exception.</summary>
    public MessageDirectorRefusedException(EjectCode code, string reason)
        : base($"The Message Director refused the link ({(int)code} {code}): {reason}")
    {
        Code = code;
        Reason = reason;
    }

    /// <summary>The refusal's code: 360 version, 361 secret, 362 a per-link limit, 363 a forbidden message, 364 handshake timeout, 395 a frame larger than a side accepts.</summary>
    public EjectCode Code { get; }

    /// <summary>Why, in the Message Director's words.</summary>
    public string Reason { get; }
}
