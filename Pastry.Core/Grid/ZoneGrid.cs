namespace Pastry;

/// <summary>
/// Maps a rectangular world onto zones, one zone per cell, so that interest can follow an avatar as the 3x3 block
/// of cells around it (see ARCHITECTURE 4, grid helper). Zone = <see cref="FirstZone"/> + y * width + x. Immutable
/// and safe to share between threads.
/// </summary>
public sealed class ZoneGrid
{
    private readonly int width;
    private readonly int height;
    private readonly uint firstZone;

    /// <summary>Creates a grid of <paramref name="width"/> by <paramref name="height"/> cells.</summary>
    /// <param name="width">Cells along x; at least 1.</param>
    /// <param name="height">Cells along y; at least 1.</param>
    /// <param name="firstZone">The zone of cell (0, 0); zones of other objects under the same parent can sit below it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, or the zones would pass <see cref="uint.MaxValue"/>.</exception>
    public ZoneGrid(int width, int height, uint firstZone = 1)
    {
        if (width < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, "A zone grid needs a width of at least 1 cell.");
        }

        if (height < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(height), height, "A zone grid needs a height of at least 1 cell.");
        }

        ulong lastZone = firstZone + ((ulong)width * (ulong)height) - 1;
        if (lastZone > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(
                nameof(firstZone),
                firstZone,
                $"A {width}x{height} grid starting at zone {firstZone} would need zones up to {lastZone}, past uint.MaxValue.");
        }

        this.width = width;
        this.height = height;
        this.firstZone = firstZone;
    }

    /// <summary>Cells along x.</summary>
    public int Width => width;

    /// <summary>Cells along y.</summary>
    public int Height => height;

    /// <summary>The zone of cell (0, 0).</summary>
    public uint FirstZone => firstZone;

    /// <summary>The zone of the last cell, (<see cref="Width"/> - 1, <see cref="Height"/> - 1).</summary>
    public uint LastZone => (uint)(firstZone + ((ulong)width * (ulong)height) - 1);

    /// <summary>Whether <paramref name="zone"/> is one of this grid's cells.</summary>
    public bool Contains(uint zone) => zone >= firstZone && zone <= LastZone;

    /// <summary>The zone of cell (<paramref name="x"/>, <paramref name="y"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The cell is outside the grid.</exception>
    public uint ZoneOf(int x, int y)
    {
        if ((uint)x >= (uint)width)
        {
            throw new ArgumentOutOfRangeException(nameof(x), x, $"Cell x must be in 0..{width - 1}.");
        }

        if ((uint)y >= (uint)height)
        {
            throw new ArgumentOutOfRangeException(nameof(y), y, $"Cell y must be in 0..{height - 1}.");
        }

        return UncheckedZoneOf(x, y);
    }

    /// <summary>The cell of <paramref name="zone"/>; false when the zone is not in this grid.</summary>
    public bool TryGetCell(uint zone, out int x, out int y)
    {
        if (!Contains(zone))
        {
            x = 0;
            y = 0;
            return false;
        }

        uint index = zone - firstZone;
        x = (int)(index % (uint)width);
        y = (int)(index / (uint)width);
        return true;
    }

    /// <summary>
    /// The zone containing world position (<paramref name="worldX"/>, <paramref name="worldY"/>), where each cell is
    /// <paramref name="cellSize"/> world units square and cell (0, 0) starts at the origin. Positions outside the
    /// grid are clamped to the nearest edge cell, so an avatar that steps off the map stays in a valid zone.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cellSize"/> is not a positive finite number.</exception>
    /// <exception cref="ArgumentException">A coordinate is NaN.</exception>
    public uint ZoneAt(float worldX, float worldY, float cellSize)
    {
        if (!float.IsFinite(cellSize) || cellSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(cellSize), cellSize, "Cell size must be a positive finite number.");
        }

        if (float.IsNaN(worldX))
        {
            throw new ArgumentException("World x is NaN.", nameof(worldX));
        }

        if (float.IsNaN(worldY))
        {
            throw new ArgumentException("World y is NaN.", nameof(worldY));
        }

        return UncheckedZoneOf(ClampedCell(worldX, cellSize, width), ClampedCell(worldY, cellSize, height));
    }

    /// <summary>
    /// The zones within <paramref name="radius"/> cells of <paramref name="zone"/> (the 3x3 block for radius 1),
    /// clipped at the grid's edges, in ascending order. A corner cell has 4 zones, an edge cell 6, an inner cell 9.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The zone is not in this grid, or the radius is negative.</exception>
    public IReadOnlyList<uint> Neighbourhood(uint zone, int radius = 1)
    {
        var (minX, maxX, minY, maxY) = Block(zone, radius);
        var zones = new uint[(maxX - minX + 1) * (maxY - minY + 1)];
        int i = 0;

        // Rows in y order, cells in x order: zone numbers grow the same way, so the result is already sorted.
        for (int y = minY; y <= maxY; y++)
        {
            for (int x = minX; x <= maxX; x++)
            {
                zones[i++] = UncheckedZoneOf(x, y);
            }
        }

        return zones;
    }

    /// <summary>
    /// How interest changes when an avatar moves from <paramref name="fromZone"/> to <paramref name="toZone"/>: the
    /// zones to open (in the new neighbourhood only) and to close (in the old one only), each in ascending order.
    /// Both are empty when the zones are equal.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A zone is not in this grid, or the radius is negative.</exception>
    public (IReadOnlyList<uint> Added, IReadOnlyList<uint> Removed) NeighbourhoodChange(uint fromZone, uint toZone, int radius = 1)
    {
        var before = Neighbourhood(fromZone, radius);
        var after = Neighbourhood(toZone, radius);
        if (fromZone == toZone)
        {
            return ([], []);
        }

        return (SortedExcept(after, before), SortedExcept(before, after));
    }

    private uint UncheckedZoneOf(int x, int y) => firstZone + ((uint)y * (uint)width) + (uint)x;

    private (int MinX, int MaxX, int MinY, int MaxY) Block(uint zone, int radius)
    {
        if (radius < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(radius), radius, "Neighbourhood radius must not be negative.");
        }

        if (!TryGetCell(zone, out int x, out int y))
        {
            throw new ArgumentOutOfRangeException(nameof(zone), zone, $"Zone is not in this grid (zones {firstZone}..{LastZone}).");
        }

        // long arithmetic so that a huge radius clips instead of overflowing.
        return (
            (int)Math.Max(0L, (long)x - radius),
            (int)Math.Min(width - 1L, (long)x + radius),
            (int)Math.Max(0L, (long)y - radius),
            (int)Math.Min(height - 1L, (long)y + radius));
    }

    private static int ClampedCell(float world, float cellSize, int cells)
    {
        double cell = Math.Floor((double)world / cellSize);
        return cell < 0 ? 0 : cell >= cells ? cells - 1 : (int)cell;
    }

    /// <summary>The items of sorted <paramref name="left"/> that are not in sorted <paramref name="right"/>, by one merge pass.</summary>
    private static uint[] SortedExcept(IReadOnlyList<uint> left, IReadOnlyList<uint> right)
    {
        var result = new List<uint>(left.Count);
        int j = 0;
        foreach (uint zone in left)
        {
            while (j < right.Count && right[j] < zone)
            {
                j++;
            }

            if (j == right.Count || right[j] != zone)
            {
                result.Add(zone);
            }
        }

        return [.. result];
    }
}
