using System.Text.Json;

namespace Replication.Cli;

/// <summary>Writes one JSON object (for --json) or aligned "key: value" lines for people.</summary>
internal sealed class JsonReport
{
    private readonly List<(string Key, object? Value)> _fields = [];

    public JsonReport Add(string key, object? value)
    {
        _fields.Add((key, value));
        return this;
    }

    /// <summary>A field's value as people read it, or null when it is missing or null.</summary>
    public string? Get(string key) => _fields.FirstOrDefault(f => f.Key == key).Value is { } value ? Describe(value) : null;

    /// <summary>A field's value as it was added, or null.</summary>
    public object? Field(string key) => _fields.FirstOrDefault(f => f.Key == key).Value;

    public void Write(TextWriter output, bool json)
    {
        ProgressDisplay.Stop();
        if (json)
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartObject();
                foreach ((string key, object? value) in _fields)
                {
                    writer.WritePropertyName(key);
                    WriteValue(writer, value);
                }

                writer.WriteEndObject();
            }

            output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return;
        }

        WriteText(output, "");
    }

    /// <summary>
    /// For people: one "key  value" line per field, keys aligned; a list of objects as a table under its key, an object
    /// as indented lines, a list of values one per line, byte counts also in KiB/MiB/GiB. Nothing wraps to the
    /// terminal's width, so a pipe or a log reads the same.
    /// </summary>
    private void WriteText(TextWriter output, string indent)
    {
        int width = _fields.Count == 0 ? 0 : _fields.Max(f => f.Key.Length);
        foreach ((string key, object? value) in _fields)
        {
            switch (value)
            {
                case IEnumerable<JsonReport> list:
                    List<JsonReport> rows = [.. list];
                    output.WriteLine($"{indent}{key}:");
                    List<string> columns = [.. rows.SelectMany(r => r._fields.Select(f => f.Key)).Distinct()];
                    TextTable.Write(
                        output,
                        [.. columns.Select(Heading)],
                        [.. rows.Select(r => columns.Select(c => r._fields.Where(f => f.Key == c).Select(f => Cell(c, f.Value)).FirstOrDefault() ?? "-").ToArray())],
                        indent + "  ");
                    break;
                case JsonReport nested:
                    output.WriteLine($"{indent}{key}:");
                    nested.WriteText(output, indent + "  ");
                    break;
                case IEnumerable<long[]> pairs:
                    List<long[]> ranges = [.. pairs];
                    output.WriteLine($"{indent}{key}:");
                    const int Shown = 20;
                    TextTable.Write(output, ["OFFSET", "LENGTH"], [.. ranges.Take(Shown).Select(r => new[] { Bytes(r[0]), Bytes(r[1]) })], indent + "  ");
                    if (ranges.Count > Shown)
                    {
                        output.WriteLine($"{indent}  … {ranges.Count - Shown} more (--json lists them all)");
                    }

                    break;
                case IEnumerable<string> strings when value is not string:
                    List<string> items = [.. strings];
                    if (items.Count <= 1)
                    {
                        output.WriteLine($"{indent}{key.PadRight(width)}  {(items.Count == 0 ? "-" : items[0])}");
                        break;
                    }

                    output.WriteLine($"{indent}{key}:");
                    foreach (string item in items)
                    {
                        output.WriteLine($"{indent}  {item}");
                    }

                    break;
                default:
                    output.WriteLine($"{indent}{key.PadRight(width)}  {Cell(key, value)}");
                    break;
            }
        }
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case double d: writer.WriteNumberValue(d); break;
            case Guid g: writer.WriteStringValue(g.ToString("D")); break;
            case IEnumerable<JsonReport> objects:
                writer.WriteStartArray();
                foreach (JsonReport o in objects)
                {
                    writer.WriteStartObject();
                    foreach ((string k, object? v) in o._fields)
                    {
                        writer.WritePropertyName(k);
                        WriteValue(writer, v);
                    }

                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                break;
            case IEnumerable<string> strings:
                writer.WriteStartArray();
                foreach (string item in strings)
                {
                    writer.WriteStringValue(item);
                }

                writer.WriteEndArray();
                break;
            case JsonReport nested:
                writer.WriteStartObject();
                foreach ((string k, object? v) in nested._fields)
                {
                    writer.WritePropertyName(k);
                    WriteValue(writer, v);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable<long[]> pairs:
                writer.WriteStartArray();
                foreach (long[] pair in pairs)
                {
                    writer.WriteStartArray();
                    foreach (long x in pair)
                    {
                        writer.WriteNumberValue(x);
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndArray();
                break;
            default: writer.WriteStringValue(value.ToString()); break;
        }
    }

    private static string Describe(object? value) => value switch
    {
        null => "-",
        IEnumerable<JsonReport> list => string.Join("; ", list.Select(Describe)),
        IEnumerable<long[]> pairs => string.Join(", ", pairs.Select(p => string.Join("+", p))),
        IEnumerable<string> strings when value is not string => string.Join(", ", strings),
        JsonReport nested => string.Join(", ", nested._fields.Select(f => $"{f.Key} {Describe(f.Value)}")),
        bool b => b ? "true" : "false",
        double d => d.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "-",
    };

    /// <summary>A value as a cell: byte counts (keys naming bytes or a size) with their size in binary units.</summary>
    private static string Cell(string key, object? value) =>
        value is long or int && (key.Contains("ytes", StringComparison.Ordinal) || key.EndsWith("Size", StringComparison.Ordinal)) && System.Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) is var n
            ? Bytes(n)
            : Describe(value);

    private static string Bytes(long n) => n < 1024 ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{n.ToString(System.Globalization.CultureInfo.InvariantCulture)} ({ProgressLines.Size(n)})";

    /// <summary>A column heading from a JSON key: pendingLogBytes → PENDING LOG BYTES.</summary>
    private static string Heading(string key) =>
        string.Concat(key.Select((c, i) => char.IsUpper(c) && i > 0 ? " " + c : c.ToString())).ToUpperInvariant();
}
