using Pastry.Fuzz;

// Usage: Pastry.Fuzz <target> [file...]   (targets: client-frames, md-link, values)
//        Pastry.Fuzz --write-seeds <directory>
// Without files it runs under AFL through SharpFuzz (see Fuzz/README.md); with files it replays them once each.
if (args is ["--write-seeds", string seeds])
{
    SeedCorpus.Write(seeds);
    return 0;
}

if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Pastry.Fuzz <{string.Join("|", FuzzTargets.All.Keys)}> [input files to replay]");
    return 2;
}

if (args.Length > 1)
{
    foreach (string file in args.Skip(1))
    {
        target(File.ReadAllBytes(file));
    }

    return 0;
}

SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    using var memory = new MemoryStream();
    stream.CopyTo(memory);
    target(memory.ToArray());
});
return 0;
