using System.Linq.Expressions;
using Pastry.Messaging;
using Pastry.Wire;

namespace Pastry.Ai.Queries;

/// <summary>
/// A typed query of the stored objects of <typeparamref name="T"/>, run by the Database role in one round trip (like
/// a Django query set: each method returns a new query, nothing runs until an <c>...Async</c> method). Filters compare
/// <c>[Db]</c> fields with values; the values travel as typed parameters, never as SQL text. Start one with
/// <see cref="AiRepository.Query{T}"/>.
/// </summary>
/// <example>
/// <code>
/// var ann = await ai.Query&lt;Player&gt;().Where(p =&gt; p.Name == "ann").FirstOrDefaultAsync();
/// var richest = await ai.Query&lt;Player&gt;().OrderByDescending(p =&gt; p.Gold).Take(10).ToListAsync();
/// </code>
/// </example>
/// <typeparam name="T">The model.</typeparam>
public sealed class DbQuery<T>
    where T : DistributedObject<T>
{
    private readonly AiRepository ai;
    private readonly ModelInfo model;
    private readonly IReadOnlyList<QueryFilter> filters;
    private readonly IReadOnlyList<QueryOrder> orders;
    private readonly int skip;
    private readonly int take;

    internal DbQuery(AiRepository ai, ModelInfo model)
        : this(ai, model, Array.Empty<QueryFilter>(), Array.Empty<QueryOrder>(), 0, 0)
    {
    }

    private DbQuery(AiRepository ai, ModelInfo model, IReadOnlyList<QueryFilter> filters, IReadOnlyList<QueryOrder> orders, int skip, int take)
    {
        this.ai = ai;
        this.model = model;
        this.filters = filters;
        this.orders = orders;
        this.skip = skip;
        this.take = take;
    }

    /// <summary>
    /// Keeps the objects that match <paramref name="predicate"/> (every Where must hold). Supported: comparisons of a
    /// <c>[Db]</c> field with a value (<c>==</c>, <c>!=</c>, <c>&lt;</c>, <c>&lt;=</c>, <c>&gt;</c>, <c>&gt;=</c>) joined with
    /// <c>&amp;&amp;</c>; <c>values.Contains(p.Field)</c>; <c>p.Name.StartsWith(prefix)</c>; <c>string.IsNullOrEmpty(p.Field)</c>
    /// or <c>p.Field.Length == 0</c>; a bool field. A field with <c>[Unique(IgnoreCase = true)]</c> compares ignoring case.
    /// </summary>
    /// <exception cref="NotSupportedException">The predicate has another shape; the message lists what is supported.</exception>
    public DbQuery<T> Where(Expression<Func<T, bool>> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new(ai, model, filters.Concat(QueryExpressions.Filters(model, predicate)).ToArray(), orders, skip, take);
    }

    /// <summary>Orders by a field, ascending (replacing any earlier ordering). Ties are broken by the DoId.</summary>
    public DbQuery<T> OrderBy<TKey>(Expression<Func<T, TKey>> key) => Ordered(key, descending: false, replace: true);

    /// <summary>Orders by a field, descending (replacing any earlier ordering).</summary>
    public DbQuery<T> OrderByDescending<TKey>(Expression<Func<T, TKey>> key) => Ordered(key, descending: true, replace: true);

    /// <summary>Then by another field, ascending.</summary>
    public DbQuery<T> ThenBy<TKey>(Expression<Func<T, TKey>> key) => Ordered(key, descending: false, replace: false);

    /// <summary>Then by another field, descending.</summary>
    public DbQuery<T> ThenByDescending<TKey>(Expression<Func<T, TKey>> key) => Ordered(key, descending: true, replace: false);

    /// <summary>Skips the first <paramref name="count"/> matches.</summary>
    public DbQuery<T> Skip(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        // As LINQ: Take(10).Skip(3) keeps the 7 after the first 3; a Skip past the Take leaves nothing (-1).
        int left = take switch { 0 => 0, < 0 => -1, _ => take - count > 0 ? take - count : -1 };
        return new(ai, model, filters, orders, skip + count, left);
    }

    /// <summary>Returns at most <paramref name="count"/> matches (at most the server's <c>Database:MaxQueryRows</c>).</summary>
    public DbQuery<T> Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        return new(ai, model, filters, orders, skip, take == 0 ? count : Math.Min(take, count));
    }

    /// <summary>
    /// Runs the query; returns the matching objects, detached (not in the world: activate one with
    /// <see cref="AiRepository.ActivateAsync{T}"/>). Rows with bad data are left out and logged; see <see cref="FetchAsync"/>.
    /// </summary>
    /// <exception cref="DatabaseRequestException">The database refused the query (the reason says why) or failed.</exception>
    public async Task<List<T>> ToListAsync(CancellationToken cancellation = default) => (await FetchAsync(cancellation).ConfigureAwait(false)).Items.ToList();

    /// <summary>Runs the query with Take(1); returns the first match or null.</summary>
    public async Task<T?> FirstOrDefaultAsync(CancellationToken cancellation = default)
    {
        var found = (await Take(1).FetchAsync(cancellation).ConfigureAwait(false)).Items;
        return found.Count == 0 ? null : found[0];
    }

    /// <summary>Runs the query; returns the matching objects (detached) and the rows left out for bad data.</summary>
    public async Task<QueryResult<T>> FetchAsync(CancellationToken cancellation = default)
    {
        var (items, _, _, bad) = await RunAsync(QueryResultKind.Objects, cancellation).ConfigureAwait(false);
        return new QueryResult<T>(items, bad);
    }

    /// <summary>Runs the query; returns the DoIds of the matches, to activate.</summary>
    public async Task<IReadOnlyList<DoId>> IdsAsync(CancellationToken cancellation = default) =>
        (await RunAsync(QueryResultKind.Ids, cancellation).ConfigureAwait(false)).Ids;

    /// <summary>Counts the matches (within Skip/Take, if given).</summary>
    public async Task<long> CountAsync(CancellationToken cancellation = default) =>
        (await RunAsync(QueryResultKind.Count, cancellation).ConfigureAwait(false)).Count;

    /// <summary>Whether anything matches.</summary>
    public async Task<bool> AnyAsync(CancellationToken cancellation = default) => await Take(1).CountAsync(cancellation).ConfigureAwait(false) > 0;

    /// <inheritdoc />
    public override string ToString() =>
        $"Query<{model.Name}>: {filters.Count} filter(s), order by {(orders.Count == 0 ? "DoId" : string.Join(", ", orders.Select(o => (o.Field?.Name ?? "DoId") + (o.Descending ? " desc" : string.Empty))))}, skip {skip}, take {(take == 0 ? "all" : take.ToString(System.Globalization.CultureInfo.InvariantCulture))}";

    internal QuerySpec Spec(QueryResultKind result) => new(model, filters, orders, skip, take, result);

    private DbQuery<T> Ordered(LambdaExpression key, bool descending, bool replace)
    {
        ArgumentNullException.ThrowIfNull(key);
        var order = new QueryOrder(QueryExpressions.OrderKey(model, key), descending);
        return new(ai, model, filters, replace ? new[] { order } : orders.Append(order).ToArray(), skip, take);
    }

    private async Task<(List<T> Items, IReadOnlyList<DoId> Ids, long Count, IReadOnlyList<string> Bad)> RunAsync(QueryResultKind result, CancellationToken cancellation)
    {
        if (take < 0)
        {
            // Skip went past Take: nothing can match, and no round trip is needed.
            return (new List<T>(), Array.Empty<DoId>(), 0, Array.Empty<string>());
        }

        var spec = Spec(result);
        var envelope = await ai.SendDatabaseRequestAsync(context => spec.ToEnvelope(context, ai.Channel), cancellation).ConfigureAwait(false);
        return Read(envelope, result);
    }

    private (List<T> Items, IReadOnlyList<DoId> Ids, long Count, IReadOnlyList<string> Bad) Read(Envelope envelope, QueryResultKind result)
    {
        var reader = new WireReader(envelope.Payload.Span);
        reader.ReadUInt32();
        var status = (DatabaseStatus)reader.ReadByte();
        string reason = reader.ReadString();
        if (status != DatabaseStatus.Ok)
        {
            throw status == DatabaseStatus.Overloaded ? new DatabaseOverloadedException(reason) : new DatabaseRequestException(status, reason);
        }

        var items = new List<T>();
        var ids = new List<DoId>();
        long count = 0;
        var bad = new List<string>();
        if (result == QueryResultKind.Count)
        {
            count = (long)reader.ReadUInt64();
        }
        else
        {
            uint rows = reader.ReadUInt32();
            for (uint r = 0; r < rows; r++)
            {
                var id = reader.ReadDoId();
                if (result == QueryResultKind.Ids)
                {
                    ids.Add(id);
                    continue;
                }

                var obj = (T)model.CreateInstance();
                obj.DoId = id;
                int fields = reader.ReadUInt16();
                string? problem = null;
                for (int f = 0; f < fields; f++)
                {
                    int index = reader.ReadUInt16();
                    var field = model.FindFieldByWireId(index) ?? throw new WireFormatException(WireError.UnknownMember, $"{model.Name} has no field {index}");

                    try
                    {
                        // Validated like an activated object's values; the database checked them already.
                        field.DecodeAndApply(obj, ref reader, ChangeOrigin.Remote, validate: true);
                    }
                    catch (ModelValidationException ex)
                    {
                        problem ??= $"stored {model.Name} {id} has bad data: {ex.Message}";
                    }
                }

                if (problem is null)
                {
                    items.Add(obj);
                    ids.Add(id);
                }
                else
                {
                    bad.Add(problem);
                }
            }
        }

        int badRows = reader.ReadUInt16();
        for (int b = 0; b < badRows; b++)
        {
            bad.Add(reader.ReadString());
        }

        reader.EnsureAtEnd();
        foreach (string row in bad)
        {
            ai.LogBadRow(row);
        }

        return (items, ids, count, bad);
    }
}

/// <summary>What a query found: the objects (detached), and the rows left out because a stored value fails its field.</summary>
/// <typeparam name="T">The model.</typeparam>
/// <param name="Items">The matching objects, in the query's order.</param>
/// <param name="BadRows">One reason per row left out, naming its DoId and field (as activation reports bad data).</param>
public sealed record QueryResult<T>(IReadOnlyList<T> Items, IReadOnlyList<string> BadRows)
    where T : DistributedObject<T>;
