using System.Net;

namespace Pastry.Otp.Admin;

/// <summary>
/// The <c>Admin</c> section: where the admin HTTP endpoint (health, readiness, metrics, dashboard) listens and who may
/// use it. It listens on loopback by default; binding any other address requires <see cref="Token"/>.
/// </summary>
public sealed class AdminOptions
{
    /// <summary>Whether the endpoint runs at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The address to bind: loopback by default (<c>127.0.0.1</c>, <c>::1</c> or <c>localhost</c>).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The port; 0 lets the OS choose (the start-up log line says which).</summary>
    public int Port { get; set; } = 7197;

    /// <summary>
    /// The operator's secret. Required when <see cref="Host"/> is not loopback; when set, every page except
    /// <c>/healthz</c> and <c>/readyz</c> asks for it (<c>Authorization: Bearer</c>, or <c>?token=</c> once in a browser).
    /// </summary>
    public string Token { get; set; } = string.Empty;

    /// <summary>The <c>Admin:Map</c> section: which ZoneGrid parent the live map draws.</summary>
    public AdminMapOptions Map { get; set; } = new();

    /// <summary>Whether <see cref="Host"/> is a loopback address.</summary>
    public bool IsLoopback => Host == "localhost" || (IPAddress.TryParse(Host, out var address) && IPAddress.IsLoopback(address));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is wrong.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"Admin:Port must be between 0 and 65535; got {Port}.");
        }

        if (Host != "localhost" && !IPAddress.TryParse(Host, out _))
        {
            throw new ArgumentException($"Admin:Host must be an IP address or localhost; got '{Host}'.");
        }

        if (!IsLoopback && string.IsNullOrWhiteSpace(Token))
        {
            throw new ArgumentException($"Admin:Token is required when Admin:Host binds a non-loopback address ({Host}): anyone who reaches the port could eject players. Set Admin:Token, or bind 127.0.0.1.");
        }

        Map.Validate();
    }
}

/// <summary>
/// The <c>Admin:Map</c> section: the live map draws the objects under <see cref="Parent"/>, a grid of
/// <see cref="Width"/> x <see cref="Height"/> cells whose zones start at <see cref="FirstZone"/> (as <c>ZoneGrid</c> numbers them).
/// </summary>
public sealed class AdminMapOptions
{
    /// <summary>The grid parent's DoId; empty means no map.</summary>
    public string Parent { get; set; } = string.Empty;

    /// <summary>Cells across.</summary>
    public int Width { get; set; } = 10;

    /// <summary>Cells down.</summary>
    public int Height { get; set; } = 10;

    /// <summary>The zone of cell (0, 0).</summary>
    public uint FirstZone { get; set; } = 1;

    /// <summary>World units per cell, to place objects that have a position field; 0 places every object by its cell.</summary>
    public float CellSize { get; set; }

    /// <summary>The <c>float[]</c> field that holds an object's world position (x, y), when its model has one.</summary>
    public string PositionField { get; set; } = "Position";

    /// <summary>The parent as a DoId (empty when none is set).</summary>
    public DoId ParentId => string.IsNullOrWhiteSpace(Parent) ? DoId.Empty : DoId.Parse(Parent);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is wrong.</summary>
    public void Validate()
    {
        if (!string.IsNullOrWhiteSpace(Parent) && !DoId.TryParse(Parent, out _))
        {
            throw new ArgumentException($"Admin:Map:Parent must be a DoId (a UUID); got '{Parent}'.");
        }

        if (Width is < 1 or > 10_000 || Height is < 1 or > 10_000)
        {
            throw new ArgumentException($"Admin:Map:Width and Admin:Map:Height must be between 1 and 10000; got {Width} x {Height}.");
        }

        if (CellSize < 0 || float.IsNaN(CellSize))
        {
            throw new ArgumentException($"Admin:Map:CellSize must be 0 or more; got {CellSize}.");
        }
    }
}
