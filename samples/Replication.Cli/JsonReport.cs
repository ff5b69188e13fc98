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

        int width = _fields.Count == 0 ? 0 : _fields.Max(f => f.Key.Length);
        foreach ((string key, object? value) in _fields)
        {
            output.WriteLine($"{key.PadRight(width)}  {Describe(value)}");
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
        IEnumerable<JsonReport> list => $"{list.Count()} items",
        IEnumerable<long[]> pairs => $"{pairs.Count()} ranges",
        IEnumerable<string> strings => string.Join(", ", strings),
        JsonReport nested => string.Join(", ", nested._fields.Select(f => $"{f.Key} {Describe(f.Value)}")),
        _ => value.ToString() ?? "-",
    };
}
