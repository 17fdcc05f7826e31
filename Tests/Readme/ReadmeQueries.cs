// The README's "Unique fields, indexes and queries" example, compiled. ReadmeTests checks that the README shows
// every block between "README: begin" and "README: end" verbatim, and runs it.
using System.ComponentModel.DataAnnotations;
using Pastry.Ai;

namespace Pastry.Tests.Readme;

// README: begin queries-model
[UniqueTogether(nameof(Account), nameof(Slot))]       // unique_together: one champion per account slot
public sealed partial class Champion : DistributedObject<Champion>
{
    [Required, Ram, Db, Broadcast, MaxLength(24), Unique(IgnoreCase = true)]   // unique=True, "Ann" takes "ANN"
    public partial string Name { get; set; }

    [Db, Ai, Indexed]                                   // db_index=True
    public partial int Gold { get; set; }

    [Db, Ai, Indexed]
    public partial DoId Account { get; set; }

    [Db, Ai, Range(0, 2)]
    public partial int Slot { get; set; }
}
// README: end

public static class ReadmeQueries
{
    public static async Task<(Champion? Ann, List<Champion> Richest, long Count, IReadOnlyList<DoId> Ids, List<Champion> Page, string Taken)> RunAsync(AiRepository ai, DoId account)
    {
        string taken = string.Empty;
        // README: begin queries
        // Champion.objects.filter(name="ann").first()  -- ignores case, since Name is Unique(IgnoreCase = true)
        var ann = await ai.Query<Champion>().Where(c => c.Name == "ann").FirstOrDefaultAsync();

        // Champion.objects.order_by("-gold", "name")[:10]
        var richest = await ai.Query<Champion>().OrderByDescending(c => c.Gold).ThenBy(c => c.Name).Take(10).ToListAsync();

        // .filter(account=account, slot__in=[0, 1]).count(), and an account's DoIds in slot order, to activate
        int[] slots = { 0, 1 };
        long count = await ai.Query<Champion>().Where(c => c.Account == account && slots.Contains(c.Slot)).CountAsync();
        var ids = await ai.Query<Champion>().Where(c => c.Account == account).OrderBy(c => c.Slot).IdsAsync();

        // name__startswith, gold__gte / gold__lt, and a page
        var page = await ai.Query<Champion>()
            .Where(c => c.Name.StartsWith("An") && c.Gold >= 10 && c.Gold < 100)
            .OrderBy(c => c.Name).Skip(0).Take(20).ToListAsync();

        // A taken unique value fails with a typed error naming the field: of two racing AIs, exactly one wins.
        try
        {
            await ai.CreateInDatabaseAsync(new Champion { Name = "ANN", Account = account, Slot = 2 });
        }
        catch (UniqueViolationException error)
        {
            taken = $"{string.Join(", ", error.Fields)} is taken";   // "Name is taken"
        }
        // README: end
        return (ann, richest, count, ids, page, taken);
    }

    public static async Task<string> RunRejectedAsync(AiRepository ai, Champion champion)
    {
        var told = new TaskCompletionSource<string>();
        // README: begin queries-rejected
        // A plain set of a unique field of a live, stored object is written with an answer before anyone sees it.
        // A taken value comes back here, on the logic loop, with the champion (and every viewer) on its stored name.
        ai.RejectedWrites.Subscribe(rejected =>
        {
            if (rejected.Error is UniqueViolationException taken)
            {
                told.TrySetResult($"{string.Join(", ", taken.Fields)} '{rejected.RefusedValue}' is taken; still '{rejected.StoredValue}'");
            }
        });
        await ai.InvokeAsync(() => champion.Name = "ANN");   // "Name 'ANN' is taken; still 'Bea'"
        // README: end
        return await told.Task;
    }
}
