using System.ComponentModel.DataAnnotations;
using Pastry;

namespace Demo.Tavern.Models;

/// <summary>The notice board in the bar room: the last notices anyone posted.</summary>
public sealed partial class NoticeBoard : DistributedObject<NoticeBoard>
{
    /// <summary>The notices, oldest first (the AI keeps the last <see cref="TavernWorld.MaxNotices"/>).</summary>
    [Required, Ram, Broadcast, Ai, MaxLength(10)]
    public partial string[] Notices { get; set; }

    /// <summary>Pins a notice; any client in the room may post.</summary>
    [Distributed, ClSend]
    public void Post([Required, MaxLength(80), NoControlCharacters] string text)
    {
    }
}
