using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Replication.Core.Replication;

/// <summary>
/// A record of the replication engine as JSON people can read, with the format, its version and the XxHash3 of the
/// body: <c>{"format":"repl.item","version":1,"xxh3":"…","body":{…}}</c>. A record that is not valid JSON, of another
/// format or version, or whose body does not match its hash is refused with the file and field named; it is never used.
/// </summary>
internal static class ItemRecordCodec
{
    public const int Version = 1;
    private const int MaxRecordBytes = 64 << 20;

    public static byte[] Encode<T>(T value, JsonTypeInfo<T> type, string format)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(value, type);
        using var stream = new MemoryStream(body.Length + 128);
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("format", format);
            writer.WriteNumber("version", Version);
            writer.WriteString("xxh3", XxHash3.HashToUInt64(body).ToString("x16", CultureInfo.InvariantCulture));
            writer.WritePropertyName("body");
            writer.WriteRawValue(body, skipInputValidation: true);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    /// <exception cref="InvalidRecordException">The record is damaged, foreign or of another version.</exception>
    public static T Decode<T>(ReadOnlySpan<byte> bytes, JsonTypeInfo<T> type, string format, string where)
    {
        if (bytes.Length > MaxRecordBytes)
        {
            throw Invalid(where, "length", $"{bytes.Length} bytes is more than a record holds");
        }

        try
        {
            var reader = new Utf8JsonReader(bytes);
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out JsonElement f) || f.GetString() != format)
            {
                throw Invalid(where, "format", $"not a {format} record");
            }

            if (!root.TryGetProperty("version", out JsonElement v) || !v.TryGetInt32(out int version) || version != Version)
            {
                throw Invalid(where, "version", $"version {(root.TryGetProperty("version", out JsonElement w) ? w.GetRawText() : "missing")} is not supported");
            }

            if (!root.TryGetProperty("body", out JsonElement body) || body.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(where, "body", "missing");
            }

            byte[] raw = Encoding.UTF8.GetBytes(body.GetRawText());
            string expected = root.TryGetProperty("xxh3", out JsonElement h) ? h.GetString() ?? "" : "";
            if (!string.Equals(expected, XxHash3.HashToUInt64(raw).ToString("x16", CultureInfo.InvariantCulture), StringComparison.Ordinal))
            {
                throw Invalid(where, "xxh3", "the body does not match its checksum");
            }

            return JsonSerializer.Deserialize(raw, type) ?? throw Invalid(where, "body", "null");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
        {
            throw Invalid(where, "body", ex.Message);
        }
    }

    private static InvalidRecordException Invalid(string where, string field, string detail) =>
        new(where, 0, $"replication record.{field}", detail);
}
