using System.Globalization;

namespace Pastry;

/// <summary>
/// One difference between two locked schemas, with the rule that classifies it. Breaking changes need a new app
/// version: a client built from the old schema would be ejected, or would misread what the server sends.
/// </summary>
/// <param name="IsBreaking">Whether an old client can no longer work with the new schema.</param>
/// <param name="Rule">The rule's name, for example <c>remove-field</c> or <c>widen-validator</c> (README, "Live operations").</param>
/// <param name="Subject">What changed, for example <c>Player.Gold (field 3)</c>.</param>
/// <param name="Detail">What the change is and why the rule classifies it so.</param>
public sealed record SchemaChange(bool IsBreaking, string Rule, string Subject, string Detail)
{
    /// <summary>One line for people and CI logs: <c>breaking   remove-field   Player.Gold (field 3): ...</c>.</summary>
    public override string ToString() => $"{(IsBreaking ? "breaking" : "compatible"),-11}{Rule,-24}{Subject}: {Detail}";
}

/// <summary>
/// The compatibility rules of <c>pastry schema --check</c>. Members are matched by wire id, so a renamed member (one
/// with <see cref="RenamedFromAttribute"/>) is the same member. Compatible: add a class, field or RPC; rename a member
/// (names are not on the wire); add an optional parameter at the end; widen a validator or drop one; widen
/// <c>int32</c> to <c>int64</c> or <c>float32</c> to <c>float64</c>; grant clients the right to send; change server-side
/// keywords. Breaking: remove a class, field, RPC or parameter; change a type otherwise; tighten or add a validator;
/// take a client's right to send away; add a required parameter.
/// </summary>
public static class SchemaCompatibility
{
    /// <summary>Every difference from <paramref name="old"/> to <paramref name="current"/>, breaking ones first.</summary>
    /// <param name="old">The lock the shipped clients were built with.</param>
    /// <param name="current">The current models, numbered by <paramref name="old"/> (<see cref="SchemaLock.Update"/>).</param>
    public static IReadOnlyList<SchemaChange> Compare(SchemaLock old, SchemaLock current)
    {
        var changes = new List<SchemaChange>();
        foreach (var before in old.Classes.Where(c => !c.Removed))
        {
            var now = current.Find(before.Name);
            if (now is null || now.Removed)
            {
                changes.Add(new(true, "remove-class", before.Name, "the model is gone; old clients still expect its objects (keep it, or ship a new app version)"));
                continue;
            }

            CompareFields(before, now, changes);
            CompareMethods(before, now, changes);
        }

        foreach (var added in current.Classes.Where(c => !c.Removed && old.Find(c.Name) is not { Removed: false }))
        {
            changes.Add(new(false, "add-class", added.Name, "a new model; old clients are never sent its objects"));
        }

        return changes.OrderByDescending(c => c.IsBreaking).ToList();
    }

    private static void CompareFields(LockedClass before, LockedClass now, List<SchemaChange> changes)
    {
        foreach (var field in before.Fields)
        {
            var next = now.Fields.Find(f => f.Id == field.Id);
            string subject = $"{before.Name}.{field.Name} (field {field.Id})";
            if (next is null)
            {
                changes.Add(new(true, "remove-field", subject, "the field is gone and its id is retired; old clients still read or send it (keep it, or ship a new app version)"));
                continue;
            }

            if (next.Name != field.Name)
            {
                changes.Add(new(false, "rename-field", subject, $"renamed to {next.Name}; the wire id is kept, so old clients are unaffected and 'pastry migrate' renames the column"));
            }

            if (next.Type != field.Type)
            {
                changes.Add(IsWidening(field.Type, next.Type)
                    ? new(false, "widen-type", subject, $"{field.Type} -> {next.Type}: every old value fits the new type")
                    : new(true, "change-field-type", subject, $"{field.Type} -> {next.Type}: old clients would misread the values"));
            }

            CompareKeywords(subject, field.Keywords, next.Keywords, changes);
            CompareValidators(subject, field.Validators, next.Validators, changes);
        }

        foreach (var added in now.Fields.Where(f => before.Fields.All(b => b.Id != f.Id)))
        {
            changes.Add(new(false, "add-field", $"{now.Name}.{added.Name} (field {added.Id})", $"a new {added.Type} field; old clients are never sent it"));
        }
    }

    private static void CompareMethods(LockedClass before, LockedClass now, List<SchemaChange> changes)
    {
        foreach (var method in before.Methods)
        {
            var next = now.Methods.Find(m => m.Id == method.Id);
            string subject = $"{before.Name}.{method.Name}() (rpc {method.Id})";
            if (next is null)
            {
                changes.Add(new(true, "remove-rpc", subject, "the RPC is gone and its id is retired; old clients still call or receive it"));
                continue;
            }

            if (next.Name != method.Name)
            {
                changes.Add(new(false, "rename-rpc", subject, $"renamed to {next.Name}; the wire id is kept"));
            }

            CompareKeywords(subject, method.Keywords, next.Keywords, changes);
            for (int i = 0; i < method.Parameters.Count; i++)
            {
                var parameter = method.Parameters[i];
                string where = $"{subject} parameter {parameter.Name}";
                if (i >= next.Parameters.Count)
                {
                    changes.Add(new(true, "remove-parameter", where, "old clients still send it"));
                    continue;
                }

                if (next.Parameters[i].Type != parameter.Type)
                {
                    changes.Add(new(true, "change-parameter-type", where, $"{parameter.Type} -> {next.Parameters[i].Type}: the values on the wire change"));
                }

                CompareValidators(where, parameter.Validators, next.Parameters[i].Validators, changes);
            }

            foreach (var added in next.Parameters.Skip(method.Parameters.Count))
            {
                changes.Add(added.Optional
                    ? new(false, "add-optional-parameter", $"{subject} parameter {added.Name}", "old clients end the call before it and get its default")
                    : new(true, "add-required-parameter", $"{subject} parameter {added.Name}", "old clients do not send it; give it a default value to make it optional"));
            }
        }

        foreach (var added in now.Methods.Where(m => before.Methods.All(b => b.Id != m.Id)))
        {
            changes.Add(new(false, "add-rpc", $"{now.Name}.{added.Name}() (rpc {added.Id})", "a new RPC; old clients never call it and are never sent it"));
        }
    }

    /// <summary>Who may send: ClSend (anyone with the object in view) is wider than OwnSend (its owner), which is wider than neither.</summary>
    private static void CompareKeywords(string subject, List<string> before, List<string> now, List<SchemaChange> changes)
    {
        int wasAllowed = SendRight(before);
        int isAllowed = SendRight(now);
        if (isAllowed < wasAllowed)
        {
            changes.Add(new(true, "revoke-client-send", subject, $"clients could send it ({string.Join(", ", before)}), now {(isAllowed == 0 ? "none may" : "only its owner may")}; an old client that sends it would be ejected"));
        }
        else if (isAllowed > wasAllowed)
        {
            changes.Add(new(false, "grant-client-send", subject, "more clients may send it than before"));
        }

        var serverSide = before.Concat(now).Where(k => k is not ("clsend" or "ownsend")).Distinct().Where(k => before.Contains(k) != now.Contains(k)).ToList();
        if (serverSide.Count > 0)
        {
            changes.Add(new(false, "change-keywords", subject, $"[{string.Join(", ", before)}] -> [{string.Join(", ", now)}]: these keywords decide storage and routing on the server, not the wire format"));
        }

        static int SendRight(List<string> keywords) => keywords.Contains("clsend") ? 2 : keywords.Contains("ownsend") ? 1 : 0;
    }

    private static void CompareValidators(string subject, List<LockedValidator>? before, List<LockedValidator>? now, List<SchemaChange> changes)
    {
        before ??= new();
        now ??= new();
        foreach (var validator in before)
        {
            var next = now.Find(v => v.Kind == validator.Kind);
            if (next is null)
            {
                changes.Add(new(false, "widen-validator", subject, $"{validator} removed: every value it allowed is still allowed"));
                continue;
            }

            var verdict = Widens(validator, next);
            if (verdict is null)
            {
                continue;
            }

            changes.Add(verdict.Value switch
            {
                Direction.Wider => new(false, "widen-validator", subject, $"{validator} -> {next}: every value it allowed is still allowed"),
                Direction.Narrower => new(true, "tighten-validator", subject, $"{validator} -> {next}: values old clients may send are now refused (eject 127)"),
                _ => new(true, "change-validator", subject, $"{validator} -> {next}: cannot tell whether it allows every value it allowed before, so it counts as tightened"),
            });
        }

        foreach (var added in now.Where(v => before.All(b => b.Kind != v.Kind)))
        {
            changes.Add(new(true, "tighten-validator", subject, $"{added} added: values old clients may send are now refused (eject 127)"));
        }
    }

    private enum Direction
    {
        Wider,
        Narrower,
        Unknown,
    }

    /// <summary>Null when the validators are the same; else whether every argument that changed makes it accept more.</summary>
    private static Direction? Widens(LockedValidator before, LockedValidator now)
    {
        var keys = (before.Arguments?.Keys ?? Enumerable.Empty<string>()).Union(now.Arguments?.Keys ?? Enumerable.Empty<string>()).ToList();
        Direction? result = null;
        foreach (string key in keys)
        {
            string? was = before.Argument(key);
            string? @is = now.Argument(key);
            if (was == @is)
            {
                continue;
            }

            // Which way an argument widens: a larger maximum or a smaller minimum accepts more; MaxLength's -1 means no limit.
            int largerIsWider = key switch
            {
                "Length" when before.Kind == "MinLength" => -1,
                "Length" or "Maximum" or "MaximumLength" => 1,
                "Minimum" or "MinimumLength" => -1,
                _ => 0,
            };
            if (largerIsWider == 0 || !TryNumber(was, key, out double a) || !TryNumber(@is, key, out double b))
            {
                return Direction.Unknown;
            }

            var direction = (b - a) * largerIsWider > 0 ? Direction.Wider : Direction.Narrower;
            if (result is not null && result != direction)
            {
                return Direction.Unknown;
            }

            result = direction;
        }

        return result;

        static bool TryNumber(string? text, string key, out double value)
        {
            if (text == "-1" && key == "Length")
            {
                value = double.PositiveInfinity;
                return true;
            }

            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private static bool IsWidening(string from, string to) => (from, to) switch
    {
        ("int32", "int64") or ("float32", "float64") or ("int32[]", "int64[]") or ("float32[]", "float64[]") => true,
        _ => false,
    };
}
