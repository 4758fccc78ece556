using CartRecovery.Contracts.Serialization;

namespace CartRecovery.Traffic.Import;

/// <summary>
/// Reads the project's own event contract (docs/events.md), one JSON event per line, as a dump of the input topics
/// gives. Each line's bytes go through <see cref="EventParser"/> as they are, the same validation the worker applies to
/// a record (decoding the file as text first would turn invalid UTF-8 into U+FFFD and accept what the worker refuses),
/// so its reject reasons (not_json, missing_field, unknown_event_type, ...) name the bad lines. Blank lines are
/// ignored. Events keep their ids and times and are published in file order to the topic their type belongs on.
/// </summary>
public static class NdjsonImporter
{
    public static IEnumerable<GeneratedEvent> Read(Stream input, ImportStatistics statistics)
    {
        long lineNumber = 0;
        foreach (var line in Lines(input))
        {
            lineNumber++;
            if (IsBlank(line)) continue;
            statistics.CountLine();
            var parsed = EventParser.Parse(line);
            if (parsed.Event is not { } evt)
            {
                statistics.Reject(lineNumber, parsed.RejectReason!, parsed.Detail ?? "", line);
                continue;
            }
            statistics.CountEvent(evt.EventTime);
            yield return new GeneratedEvent(InputTopics.For(evt), evt);
        }
    }

    /// <summary>The stream's lines as bytes, split at '\n' (a '\r' before it dropped).</summary>
    private static IEnumerable<byte[]> Lines(Stream input)
    {
        var line = new MemoryStream();
        var buffer = new byte[1 << 16];
        int read;
        while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n') continue;
                line.Write(buffer, start, i - start);
                yield return TrimCarriageReturn(line);
                line.SetLength(0);
                start = i + 1;
            }
            line.Write(buffer, start, read - start);
        }
        if (line.Length > 0) yield return TrimCarriageReturn(line);
    }

    private static byte[] TrimCarriageReturn(MemoryStream line)
    {
        var bytes = line.ToArray();
        return bytes.Length > 0 && bytes[^1] == (byte)'\r' ? bytes[..^1] : bytes;
    }

    private static bool IsBlank(byte[] line)
    {
        foreach (var b in line)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
        return true;
    }
}
