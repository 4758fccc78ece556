using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using CartRecovery.Contracts.Events;
using CartRecovery.Contracts.Outputs;
using CartRecovery.Domain.Compliance;
using CartRecovery.Domain.Identity;
using CartRecovery.Domain.Profiles;
using CartRecovery.Domain.State;
using CartRecovery.Domain.Time;
using MessagePack;

namespace CartRecovery.Streaming.Checkpointing;

/// <summary>A checkpoint's bytes cannot be read: truncated, corrupt, or not a checkpoint. Recovery fails with it (the
/// partition's worker stops and names it); an erasure counts such a row as possibly naming the shopper.</summary>
public sealed class CheckpointFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The binary encoding of <see cref="PartitionCheckpoint"/>: MessagePack, every record an array of its fields in a fixed
/// order (no field names, about a sixth of the JSON; docs/performance.md, session 10), written and read field by field
/// here so the domain's types carry no serializer attributes and nothing is generated at run time. What JSON lost and
/// the decoder restored by hand is kept exactly: ordinal comparers of sorted dictionaries, offsets of times, the scale of
/// decimals, default versus empty arrays. Strings stay UTF-8 as they are (not compressed), so a leak check can still
/// search a row's bytes for any text (<see cref="CheckpointErasure.CountRowsNamingAsync"/>).
///
/// The reader is strict because a row comes from a store: every record states its field count and must match, every
/// count is bounded by the bytes left (a forged length cannot allocate or loop beyond the input), strings must be valid
/// UTF-8, enums defined, keys unique, and nothing may follow the checkpoint. Any violation is a
/// <see cref="CheckpointFormatException"/>.
/// A field added to a domain record must be added here (at the end of its record, with a new format version if old rows
/// must stay readable): the round-trip property test fills every public property and fails on one that is not carried.
/// </summary>
internal static class CheckpointCodec
{
    /// <summary>The first byte of a binary checkpoint (version 1). A JSON checkpoint of an earlier release starts with '{'.</summary>
    public const byte BinaryV1 = 0x01;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static void Write(IBufferWriter<byte> buffer, PartitionCheckpoint checkpoint)
    {
        var w = new MessagePackWriter(buffer);
        w.WriteRaw([BinaryV1]);
        w.WriteArrayHeader(8);
        w.Write(checkpoint.Partition);
        w.WriteMapHeader(checkpoint.NextOffsets.Count);
        foreach (var (topic, offset) in checkpoint.NextOffsets)
        {
            w.Write(topic);
            w.Write(offset);
        }
        Time(ref w, checkpoint.Watermark.Eager);
        Time(ref w, checkpoint.Watermark.Settled);
        if (checkpoint.Frontier is { } frontier)
        {
            w.WriteArrayHeader(2);
            Time(ref w, frontier.Accepted);
            Array(ref w, frontier.Claims, Claim);
        }
        else w.WriteNil();
        // A state the partition holds encoded (a waiting session, a quiet shopper) is copied as it is: its bytes are
        // exactly what encoding its decoded state would write, so a snapshot's cost follows what changed.
        w.WriteArrayHeader(checkpoint.Shoppers.Count + checkpoint.EncodedShoppers.Count);
        foreach (var shopper in checkpoint.Shoppers) Shopper(ref w, shopper);
        foreach (var shopper in checkpoint.EncodedShoppers) w.WriteRaw(shopper);
        w.WriteArrayHeader(checkpoint.Sessions.Count + checkpoint.EncodedSessions.Count);
        foreach (var session in checkpoint.Sessions) Session(ref w, session);
        foreach (var session in checkpoint.EncodedSessions) w.WriteRaw(session);
        w.WriteArrayHeader(2);
        Map(ref w, checkpoint.Identity.Aliases, Alias);
        Map(ref w, checkpoint.Identity.Applied, Time);
        if (checkpoint.ChangedShoppers is { } changed)
        {
            w.WriteArrayHeader(changed.Count);
            foreach (var id in changed) w.Write(id);
        }
        else w.WriteNil();
        w.Flush();
    }

    /// <summary>Reads a binary checkpoint (its first byte is <see cref="BinaryV1"/>).</summary>
    public static PartitionCheckpoint Read(ReadOnlyMemory<byte> bytes)
    {
        var r = new MessagePackReader(bytes[1..]);
        try
        {
            Fields(ref r, 8, nameof(PartitionCheckpoint));
            var partition = r.ReadInt32();
            var offsetCount = MapCount(ref r);
            var offsets = new Dictionary<string, long>(offsetCount);
            for (var i = 0; i < offsetCount; i++) offsets.Add(Text(ref r), r.ReadInt64());
            var watermark = new Watermark(Time(ref r), Time(ref r));
            EventTimeFrontier? frontier = null;
            if (!r.TryReadNil())
            {
                Fields(ref r, 2, nameof(EventTimeFrontier));
                frontier = new EventTimeFrontier(NullableTime(ref r), Array(ref r, Claim));
            }
            var shopperCount = ArrayCount(ref r);
            var shoppers = new List<ShopperState>(shopperCount);
            for (var i = 0; i < shopperCount; i++) shoppers.Add(Shopper(ref r));
            var sessionCount = ArrayCount(ref r);
            var sessions = new List<SessionState>(sessionCount);
            for (var i = 0; i < sessionCount; i++) sessions.Add(Session(ref r));
            Fields(ref r, 2, nameof(IdentityLinks));
            var identity = new IdentityLinks { Aliases = SortedMap(ref r, Alias, shared: false), Applied = SortedMap(ref r, Time, shared: false) };
            List<string>? changed = null;
            if (!r.TryReadNil())
            {
                var changedCount = ArrayCount(ref r);
                changed = new List<string>(changedCount);
                for (var i = 0; i < changedCount; i++) changed.Add(Text(ref r));
            }
            if (!r.End) throw new CheckpointFormatException($"checkpoint has {bytes.Length - 1 - r.Consumed} bytes after its end");
            return new PartitionCheckpoint
            {
                Partition = partition, NextOffsets = offsets, Watermark = watermark, Frontier = frontier, Shoppers = shoppers,
                Sessions = sessions, Identity = identity, ChangedShoppers = changed,
            };
        }
        catch (Exception e) when (e is CheckpointFormatException or MessagePackSerializationException or EndOfStreamException
            or ArgumentException or OverflowException or InvalidOperationException or FormatException)
        {
            // ArgumentException covers invalid UTF-8 (DecoderFallbackException), duplicate keys and out-of-range times or decimals.
            throw new CheckpointFormatException($"binary checkpoint ({bytes.Length} bytes) cannot be read at byte {1 + r.Consumed}: {e.Message}", e);
        }
    }

    // ---- one state on its own: as a partition holds a waiting session or a quiet shopper between checkpoints ----

    // One writer per thread: a partition encodes one state at a time, on its own thread.
    [ThreadStatic] private static ArrayBufferWriter<byte>? _one;

    /// <summary>A session's state in the encoding a checkpoint carries it in (the bytes <see cref="Write"/> would write for it).</summary>
    public static byte[] EncodeSession(SessionState session) => Encode(session, Session);

    /// <summary>A shopper's policy state in the encoding a checkpoint carries it in.</summary>
    public static byte[] EncodeShopper(ShopperState shopper) => Encode(shopper, Shopper);

    /// <exception cref="CheckpointFormatException">The bytes are not one encoded session.</exception>
    public static SessionState DecodeSession(ReadOnlyMemory<byte> bytes) => Decode(bytes, Session, nameof(SessionState));

    /// <exception cref="CheckpointFormatException">The bytes are not one encoded shopper.</exception>
    public static ShopperState DecodeShopper(ReadOnlyMemory<byte> bytes) => Decode(bytes, Shopper, nameof(ShopperState));

    private static byte[] Encode<T>(T state, Writer<T> write)
    {
        var buffer = _one ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var w = new MessagePackWriter(buffer);
        write(ref w, state);
        w.Flush();
        var bytes = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 1024 * 1024) _one = null; // not kept after an unusually large state
        return bytes;
    }

    private static T Decode<T>(ReadOnlyMemory<byte> bytes, Reader<T> read, string what)
    {
        var r = new MessagePackReader(bytes);
        try
        {
            var state = read(ref r);
            if (!r.End) throw new CheckpointFormatException($"{bytes.Length - r.Consumed} bytes follow the state");
            return state;
        }
        catch (Exception e) when (e is CheckpointFormatException or MessagePackSerializationException or EndOfStreamException
            or ArgumentException or OverflowException or InvalidOperationException or FormatException)
        {
            throw new CheckpointFormatException($"encoded {what} ({bytes.Length} bytes) cannot be read at byte {r.Consumed}: {e.Message}", e);
        }
    }

    // ---- the shopper's policy state ----

    private static void Shopper(ref MessagePackWriter w, ShopperState s)
    {
        w.WriteArrayHeader(18);
        w.Write(s.ShopperId);
        Map(ref w, s.Consents, Consent);
        List(ref w, s.Sent, Sent);
        Map(ref w, s.PurchasedSkus, Purchase);
        List(ref w, s.OpenIncentives, Incentive);
        Map(ref w, s.ClosedSessions, Closed);
        w.Write(s.HasOrdered);
        List(ref w, s.Orders, Order);
        List(ref w, s.PendingPayments, Pending);
        List(ref w, s.OpenCases, Case);
        Array(ref w, s.SeenEvents, Seen);
        Nullable(ref w, s.AuditHead, Head);
        Map(ref w, s.BlockedChannels, Block);
        Map(ref w, s.Engagement, Int);
        List(ref w, s.OfferedChats, Chat);
        Nullable(ref w, s.Profile, Profile);
        Nullable(ref w, s.WinBack, WinBack);
        List(ref w, s.PendingSurveys, Survey);
    }

    private static ShopperState Shopper(ref MessagePackReader r)
    {
        Fields(ref r, 18, nameof(ShopperState));
        return new ShopperState
        {
            ShopperId = Text(ref r),
            Consents = HashMap(ref r, Consent, shared: true),
            Sent = List(ref r, Sent),
            PurchasedSkus = HashMap(ref r, Purchase, shared: true),
            OpenIncentives = List(ref r, Incentive),
            ClosedSessions = HashMap(ref r, Closed),
            HasOrdered = r.ReadBoolean(),
            Orders = List(ref r, Order),
            PendingPayments = List(ref r, Pending),
            OpenCases = List(ref r, Case),
            SeenEvents = Array(ref r, Seen),
            AuditHead = Nullable(ref r, Head),
            BlockedChannels = HashMap(ref r, Block, shared: true),
            Engagement = SortedMap(ref r, Int, shared: true),
            OfferedChats = List(ref r, Chat),
            Profile = Nullable(ref r, Profile),
            WinBack = Nullable(ref r, WinBack),
            PendingSurveys = List(ref r, Survey),
        };
    }

    private static void Consent(ref MessagePackWriter w, ConsentRecord c)
    {
        w.WriteArrayHeader(9);
        w.Write(c.Purpose);
        w.Write(c.Channel);
        w.Write(c.Granted);
        w.Write(c.EventId);
        Time(ref w, c.At);
        w.Write(c.Source);
        w.Write(c.WordingVersion);
        w.Write(c.Kind);
        Time(ref w, c.ValidUntil);
    }

    private static ConsentRecord Consent(ref MessagePackReader r)
    {
        Fields(ref r, 9, nameof(ConsentRecord));
        return new ConsentRecord(Shared(ref r), Shared(ref r), r.ReadBoolean(), Text(ref r), Time(ref r), Shared(ref r), Shared(ref r),
            Shared(ref r), NullableTime(ref r));
    }

    private static void Sent(ref MessagePackWriter w, SentMessage m)
    {
        w.WriteArrayHeader(3);
        Time(ref w, m.At);
        w.Write(m.TriggerId);
        w.Write(m.SessionId);
    }

    private static SentMessage Sent(ref MessagePackReader r)
    {
        Fields(ref r, 3, nameof(SentMessage));
        return new SentMessage(Time(ref r), Text(ref r), Text(ref r));
    }

    private static void Purchase(ref MessagePackWriter w, Purchase p)
    {
        w.WriteArrayHeader(2);
        Time(ref w, p.At);
        w.Write(p.EventId);
    }

    private static Purchase Purchase(ref MessagePackReader r)
    {
        Fields(ref r, 2, nameof(Purchase));
        return new Purchase(Time(ref r), Text(ref r));
    }

    private static void Incentive(ref MessagePackWriter w, OpenIncentive i)
    {
        w.WriteArrayHeader(5);
        w.Write(i.Code);
        w.Write(i.TriggerId);
        w.Write(i.SessionId);
        Time(ref w, i.IssuedAt);
        Time(ref w, i.ExpiresAt);
    }

    private static OpenIncentive Incentive(ref MessagePackReader r)
    {
        Fields(ref r, 5, nameof(OpenIncentive));
        return new OpenIncentive(Text(ref r), Text(ref r), Text(ref r), Time(ref r), Time(ref r));
    }

    private static void Closed(ref MessagePackWriter w, ClosedSession c)
    {
        w.WriteArrayHeader(6);
        Outcome(ref w, c.Outcome);
        w.Write(c.RemindersSent);
        w.Write(c.Abandonments);
        w.Write(c.Visits);
        w.Write(c.TimeZone);
        Time(ref w, c.ClosedAt);
    }

    private static ClosedSession Closed(ref MessagePackReader r)
    {
        Fields(ref r, 6, nameof(ClosedSession));
        return new ClosedSession(Outcome(ref r), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), Shared(ref r), Time(ref r));
    }

    private static void Order(ref MessagePackWriter w, ShopperOrder o)
    {
        w.WriteArrayHeader(3);
        Time(ref w, o.At);
        w.Write(o.EventId);
        w.Write(o.SessionId);
    }

    private static ShopperOrder Order(ref MessagePackReader r)
    {
        Fields(ref r, 3, nameof(ShopperOrder));
        return new ShopperOrder(Time(ref r), Text(ref r), Text(ref r));
    }

    private static void Pending(ref MessagePackWriter w, PendingPayment p)
    {
        w.WriteArrayHeader(3);
        Time(ref w, p.At);
        w.Write(p.EventId);
        w.Write(p.SessionId);
    }

    private static PendingPayment Pending(ref MessagePackReader r)
    {
        Fields(ref r, 3, nameof(PendingPayment));
        return new PendingPayment(Time(ref r), Text(ref r), NullableText(ref r));
    }

    private static void Case(ref MessagePackWriter w, OpenCase c)
    {
        w.WriteArrayHeader(4);
        w.Write(c.SessionId);
        Time(ref w, c.AbandonedAt);
        Array(ref w, c.Skus, Str);
        w.Write(c.AbandonEventId);
    }

    private static OpenCase Case(ref MessagePackReader r)
    {
        Fields(ref r, 4, nameof(OpenCase));
        return new OpenCase(Text(ref r), Time(ref r), Array(ref r, Shared), Text(ref r));
    }

    private static void Seen(ref MessagePackWriter w, SeenEvent s)
    {
        w.WriteArrayHeader(2);
        w.Write(s.IdHash);
        // Clock ticks and kind in one unsigned integer: ticks < 2^62.
        w.Write(((ulong)s.AtUtc.Ticks << 2) | (ulong)s.AtUtc.Kind);
    }

    private static SeenEvent Seen(ref MessagePackReader r)
    {
        Fields(ref r, 2, nameof(SeenEvent));
        var idHash = r.ReadUInt64();
        var packed = r.ReadUInt64();
        var kind = (DateTimeKind)(packed & 3);
        if (!System.Enum.IsDefined(kind)) throw new CheckpointFormatException($"seen event has an unknown time kind {(int)kind}");
        return new SeenEvent(idHash, new DateTime((long)(packed >> 2), kind));
    }

    private static void Head(ref MessagePackWriter w, AuditChainHead h)
    {
        w.WriteArrayHeader(3);
        w.Write(h.Seq);
        w.Write(h.Hash);
        w.Write(h.Root);
    }

    private static AuditChainHead Head(ref MessagePackReader r)
    {
        Fields(ref r, 3, nameof(AuditChainHead));
        return new AuditChainHead(r.ReadInt64(), Text(ref r), Text(ref r));
    }

    private static void Block(ref MessagePackWriter w, ChannelBlock b)
    {
        w.WriteArrayHeader(5);
        w.Write(b.Channel);
        w.Write(b.Reason);
        w.Write(b.EventId);
        w.Write(b.TriggerId);
        Time(ref w, b.At);
    }

    private static ChannelBlock Block(ref MessagePackReader r)
    {
        Fields(ref r, 5, nameof(ChannelBlock));
        return new ChannelBlock(Shared(ref r), Shared(ref r), Text(ref r), Text(ref r), Time(ref r));
    }

    private static void Chat(ref MessagePackWriter w, OfferedChat c)
    {
        w.WriteArrayHeader(3);
        Time(ref w, c.At);
        w.Write(c.TriggerId);
        w.Write(c.SessionId);
    }

    private static OfferedChat Chat(ref MessagePackReader r)
    {
        Fields(ref r, 3, nameof(OfferedChat));
        return new OfferedChat(Time(ref r), Text(ref r), Text(ref r));
    }

    private static void Profile(ref MessagePackWriter w, ShopperProfile p)
    {
        w.WriteArrayHeader(10);
        Time(ref w, p.FirstSeen);
        Time(ref w, p.LastSeen);
        Time(ref w, p.FirstOrderAt);
        Time(ref w, p.LastOrderAt);
        w.Write(p.OrderCount);
        Decimal(ref w, p.Monetary);
        Map(ref w, p.CategoryInterest, Int);
        Map(ref w, p.SkuCategories, Str);
        Time(ref w, p.LastCartAt);
        w.Write(p.TimeZone);
    }

    private static ShopperProfile Profile(ref MessagePackReader r)
    {
        Fields(ref r, 10, nameof(ShopperProfile));
        return new ShopperProfile
        {
            FirstSeen = Time(ref r),
            LastSeen = Time(ref r),
            FirstOrderAt = NullableTime(ref r),
            LastOrderAt = NullableTime(ref r),
            OrderCount = r.ReadInt32(),
            Monetary = Decimal(ref r),
            CategoryInterest = SortedMap(ref r, Int, shared: true),
            SkuCategories = SortedMap(ref r, Shared, shared: true),
            LastCartAt = NullableTime(ref r),
            TimeZone = Shared(ref r),
        };
    }

    private static void WinBack(ref MessagePackWriter w, WinBackState b)
    {
        w.WriteArrayHeader(3);
        Time(ref w, b.DecidedFor);
        Time(ref w, b.LastSentAt);
        Time(ref w, b.DeferredUntil);
    }

    private static WinBackState WinBack(ref MessagePackReader r)
    {
        Fields(ref r, 3, nameof(WinBackState));
        return new WinBackState(NullableTime(ref r), NullableTime(ref r), NullableTime(ref r));
    }

    private static void Survey(ref MessagePackWriter w, PendingSurvey s)
    {
        w.WriteArrayHeader(13);
        w.Write(s.SessionId);
        Time(ref w, s.SessionStart);
        w.Write(s.Abandonment);
        Time(ref w, s.AbandonedAt);
        Time(ref w, s.EndedAt);
        w.Write(s.AbandonEventId);
        w.Write(s.Segment);
        w.Write(s.Variant);
        w.Write(s.TimeZone);
        w.Write(s.Holdout);
        Decimal(ref w, s.CartValue);
        w.Write(s.Currency);
        Time(ref w, s.DeferredUntil);
    }

    private static PendingSurvey Survey(ref MessagePackReader r)
    {
        Fields(ref r, 13, nameof(PendingSurvey));
        return new PendingSurvey(Text(ref r), Time(ref r), r.ReadInt32(), Time(ref r), Time(ref r), Text(ref r), Shared(ref r), Shared(ref r),
            Shared(ref r), r.ReadBoolean(), Decimal(ref r), Shared(ref r), NullableTime(ref r));
    }

    // ---- sessions ----

    private static void Session(ref MessagePackWriter w, SessionState s)
    {
        w.WriteArrayHeader(40);
        w.Write(s.ShopperId);
        w.Write(s.SessionId);
        w.Write(s.OriginChannel);
        w.Write(s.Currency);
        w.Write(s.TimeZone);
        Time(ref w, s.StartedAt);
        Time(ref w, s.LastActivityAt);
        Map(ref w, s.Lines, Line);
        w.Write(s.MixedCurrencies);
        w.Write(s.TimeZoneFromPolicy);
        w.Write(s.CurrencyFromPolicy);
        w.Write(s.HadCart);
        w.Write((int)s.FurthestStep);
        w.Write(s.PaymentFailures);
        Array(ref w, s.PaymentErrorCodes, Str);
        w.Write(s.ReturningShopper);
        w.Write((int)s.Phase);
        w.Write(s.Abandonments);
        w.Write(s.Visits);
        Time(ref w, s.AbandonedAt);
        w.Write(s.AbandonCause);
        w.Write(s.Segment);
        w.Write(s.Variant);
        w.Write(s.Holdout);
        Nullable(ref w, s.EarlierOrder, Outcome);
        w.Write(s.NextStep);
        Time(ref w, s.DeferredUntil);
        w.Write(s.RemindersSent);
        Time(ref w, s.LastReminderAt);
        Time(ref w, s.IncentiveExpiresAt);
        w.Write(s.ProactiveChatSent);
        w.Write(s.LastEventId);
        w.Write(s.Score);
        w.Write(s.UrgencyScore);
        Array(ref w, s.UrgencyFactors, Str);
        w.Write(s.ShopperSegment);
        Array(ref w, s.TopFactors, Str);
        Map(ref w, s.ViewedCategories, Int);
        w.Write(s.BrowseDecided);
        Time(ref w, s.BrowseDeferredUntil);
    }

    private static SessionState Session(ref MessagePackReader r)
    {
        Fields(ref r, 40, nameof(SessionState));
        return new SessionState
        {
            ShopperId = Text(ref r),
            SessionId = Text(ref r),
            OriginChannel = Shared(ref r),
            Currency = Shared(ref r),
            TimeZone = Shared(ref r),
            StartedAt = Time(ref r),
            LastActivityAt = Time(ref r),
            Lines = SortedMap(ref r, Line, shared: true),
            MixedCurrencies = r.ReadBoolean(),
            TimeZoneFromPolicy = r.ReadBoolean(),
            CurrencyFromPolicy = r.ReadBoolean(),
            HadCart = r.ReadBoolean(),
            FurthestStep = Enum<FunnelStep>(ref r),
            PaymentFailures = r.ReadInt32(),
            PaymentErrorCodes = Array(ref r, Shared),
            ReturningShopper = r.ReadBoolean(),
            Phase = Enum<SessionPhase>(ref r),
            Abandonments = r.ReadInt32(),
            Visits = r.ReadInt32(),
            AbandonedAt = NullableTime(ref r),
            AbandonCause = Shared(ref r),
            Segment = Shared(ref r),
            Variant = Shared(ref r),
            Holdout = r.ReadBoolean(),
            EarlierOrder = Nullable(ref r, Outcome),
            NextStep = r.ReadInt32(),
            DeferredUntil = NullableTime(ref r),
            RemindersSent = r.ReadInt32(),
            LastReminderAt = NullableTime(ref r),
            IncentiveExpiresAt = NullableTime(ref r),
            ProactiveChatSent = r.ReadBoolean(),
            LastEventId = Text(ref r),
            Score = r.ReadDouble(),
            UrgencyScore = r.ReadDouble(),
            UrgencyFactors = Array(ref r, Shared),
            ShopperSegment = Shared(ref r),
            TopFactors = Array(ref r, Shared),
            ViewedCategories = SortedMap(ref r, Int, shared: true),
            BrowseDecided = r.ReadBoolean(),
            BrowseDeferredUntil = NullableTime(ref r),
        };
    }

    private static void Line(ref MessagePackWriter w, CartLine l)
    {
        w.WriteArrayHeader(4);
        w.Write(l.Sku);
        w.Write(l.Name);
        Decimal(ref w, l.UnitPrice);
        w.Write(l.Quantity);
    }

    private static CartLine Line(ref MessagePackReader r)
    {
        Fields(ref r, 4, nameof(CartLine));
        return new CartLine { Sku = Shared(ref r), Name = Shared(ref r), UnitPrice = Decimal(ref r), Quantity = r.ReadInt32() };
    }

    private static void Outcome(ref MessagePackWriter w, SessionOutcome o)
    {
        w.WriteArrayHeader(18);
        w.Write(o.SessionId);
        w.Write(o.ShopperId);
        w.Write(o.OriginChannel);
        w.Write(o.Segment);
        w.Write(o.FurthestStep);
        Decimal(ref w, o.CartValue);
        w.Write(o.Currency);
        w.Write(o.ItemCount);
        w.Write(o.Outcome);
        Time(ref w, o.AbandonedAt);
        Time(ref w, o.OrderedAt);
        Decimal(ref w, o.OrderValue);
        w.Write(o.OrderCurrency);
        w.Write(o.Holdout);
        w.Write(o.PolicyVersion);
        w.Write(o.Variant);
        Time(ref w, o.StartedAt);
        Time(ref w, o.EndedAt);
    }

    private static SessionOutcome Outcome(ref MessagePackReader r)
    {
        Fields(ref r, 18, nameof(SessionOutcome));
        return new SessionOutcome
        {
            SessionId = Text(ref r),
            ShopperId = Text(ref r),
            OriginChannel = Shared(ref r),
            Segment = Shared(ref r),
            FurthestStep = Shared(ref r),
            CartValue = Decimal(ref r),
            Currency = Shared(ref r),
            ItemCount = r.ReadInt32(),
            Outcome = Shared(ref r),
            AbandonedAt = NullableTime(ref r),
            OrderedAt = NullableTime(ref r),
            OrderValue = Decimal(ref r),
            OrderCurrency = Shared(ref r),
            Holdout = r.ReadBoolean(),
            PolicyVersion = Shared(ref r),
            Variant = Shared(ref r),
            StartedAt = Time(ref r),
            EndedAt = Time(ref r),
        };
    }

    // ---- partition-wide parts ----

    private static void Claim(ref MessagePackWriter w, AheadClaim c)
    {
        w.WriteArrayHeader(6);
        w.Write(c.ShopperId);
        Time(ref w, c.At);
        w.Write(c.FirstEventId);
        w.Write(c.SessionId);
        w.Write(c.Events);
        Time(ref w, c.AheadOf);
    }

    private static AheadClaim Claim(ref MessagePackReader r)
    {
        Fields(ref r, 6, nameof(AheadClaim));
        return new AheadClaim(Text(ref r), Time(ref r), Text(ref r), Text(ref r), r.ReadInt32(), NullableTime(ref r));
    }

    private static void Alias(ref MessagePackWriter w, IdentityAlias a)
    {
        w.WriteArrayHeader(4);
        w.Write(a.CustomerId);
        w.Write(a.LinkEventId);
        Time(ref w, a.LinkedAt);
        Time(ref w, a.LastUsedAt);
    }

    private static IdentityAlias Alias(ref MessagePackReader r)
    {
        Fields(ref r, 4, nameof(IdentityAlias));
        return new IdentityAlias(Text(ref r), Text(ref r), Time(ref r), Time(ref r));
    }

    // ---- values ----

    private delegate void Writer<in T>(ref MessagePackWriter w, T value);

    private delegate T Reader<out T>(ref MessagePackReader r);

    /// <summary>Clock ticks and the offset in minutes: the instant and the offset it was stated in, both exact.</summary>
    private static void Time(ref MessagePackWriter w, DateTimeOffset t)
    {
        w.Write(t.Ticks);
        w.Write((short)(t.Offset.Ticks / TimeSpan.TicksPerMinute));
    }

    private static void Time(ref MessagePackWriter w, DateTimeOffset? t)
    {
        if (t is { } value) Time(ref w, value);
        else w.WriteNil();
    }

    private static DateTimeOffset Time(ref MessagePackReader r)
    {
        var ticks = r.ReadInt64();
        // The constructor refuses ticks or an offset out of range (ArgumentOutOfRangeException, reported as a format error).
        return new DateTimeOffset(ticks, TimeSpan.FromMinutes(r.ReadInt16()));
    }

    private static DateTimeOffset? NullableTime(ref MessagePackReader r) => r.TryReadNil() ? null : Time(ref r);

    /// <summary>A decimal's exact bits (its scale too: 1.10 stays 1.10): sign and scale in one small integer, the 96-bit
    /// integer as its low 64 bits and, only when needed, its high 32.</summary>
    private static void Decimal(ref MessagePackWriter w, decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        var scale = (bits[3] >> 16) & 0xFF;
        var head = scale | (bits[3] < 0 ? 0x20 : 0) | (bits[2] != 0 ? 0x40 : 0);
        w.Write(head);
        w.Write(((ulong)(uint)bits[1] << 32) | (uint)bits[0]);
        if (bits[2] != 0) w.Write((uint)bits[2]);
    }

    private static decimal Decimal(ref MessagePackReader r)
    {
        var head = r.ReadInt32();
        var scale = head & 0x1F;
        if ((head & ~0x7F) != 0 || scale > 28) throw new CheckpointFormatException($"decimal header {head} is not a sign and scale");
        var low = r.ReadUInt64();
        var high = (head & 0x40) != 0 ? r.ReadUInt32() : 0u;
        return new decimal((int)(uint)low, (int)(uint)(low >> 32), (int)high, (head & 0x20) != 0, (byte)scale);
    }

    private static T Enum<T>(ref MessagePackReader r) where T : struct, Enum
    {
        var value = r.ReadInt32();
        var result = (T)(object)value;
        return System.Enum.IsDefined(result) ? result : throw new CheckpointFormatException($"{typeof(T).Name} has no value {value}");
    }

    private static void Int(ref MessagePackWriter w, int value) => w.Write(value);

    private static int Int(ref MessagePackReader r) => r.ReadInt32();

    private static void Str(ref MessagePackWriter w, string value) => w.Write(value);

    /// <summary>A string that must be present (the domain's non-nullable strings).</summary>
    private static string Text(ref MessagePackReader r) =>
        NullableText(ref r) ?? throw new CheckpointFormatException("a required string is nil");

    private static string? NullableText(ref MessagePackReader r)
    {
        if (r.TryReadNil()) return null;
        var bytes = r.ReadStringSequence() ?? throw new CheckpointFormatException("a string is nil");
        return StrictUtf8.GetString(bytes);
    }

    /// <summary>A low-cardinality string (channel, currency, time zone, SKU, factor label): its shared instance, as the
    /// engine holds it for live traffic (<see cref="SharedStrings"/>), so a restored partition is as small as one that ran.</summary>
    private static string Shared(ref MessagePackReader r)
    {
        if (r.TryReadNil()) throw new CheckpointFormatException("a required string is nil");
        var bytes = r.ReadStringSequence() ?? throw new CheckpointFormatException("a string is nil");
        if (!bytes.IsSingleSegment || bytes.Length > 512) return SharedStrings.Of(StrictUtf8.GetString(bytes));
        Span<char> chars = stackalloc char[(int)bytes.Length];
        var length = StrictUtf8.GetChars(bytes.FirstSpan, chars);
        return SharedStrings.Of(chars[..length]);
    }

    /// <summary>The next value must be an array of exactly <paramref name="count"/> fields.</summary>
    private static void Fields(ref MessagePackReader r, int count, string record)
    {
        var actual = r.ReadArrayHeader();
        if (actual != count) throw new CheckpointFormatException($"{record} has {actual} fields, expected {count}");
    }

    // A forged count cannot allocate beyond the input: every element takes at least one byte.
    private static int ArrayCount(ref MessagePackReader r) => Bounded(ref r, r.ReadArrayHeader());

    private static int MapCount(ref MessagePackReader r) => Bounded(ref r, r.ReadMapHeader());

    private static int Bounded(ref MessagePackReader r, int count) =>
        count <= r.Sequence.Length - r.Consumed ? count : throw new CheckpointFormatException($"a count of {count} exceeds the bytes left");

    private static void Nullable<T>(ref MessagePackWriter w, T? value, Writer<T> write) where T : class
    {
        if (value is null) w.WriteNil();
        else write(ref w, value);
    }

    private static T? Nullable<T>(ref MessagePackReader r, Reader<T> read) where T : class => r.TryReadNil() ? null : read(ref r);

    private static void List<T>(ref MessagePackWriter w, ImmutableList<T> list, Writer<T> write)
    {
        w.WriteArrayHeader(list.Count);
        foreach (var item in list) write(ref w, item);
    }

    private static ImmutableList<T> List<T>(ref MessagePackReader r, Reader<T> read)
    {
        var count = ArrayCount(ref r);
        if (count == 0) return ImmutableList<T>.Empty;
        var builder = ImmutableList.CreateBuilder<T>();
        for (var i = 0; i < count; i++) builder.Add(read(ref r));
        return builder.ToImmutable();
    }

    /// <summary>A default array (nil) stays default; an empty one stays empty.</summary>
    private static void Array<T>(ref MessagePackWriter w, ImmutableArray<T> array, Writer<T> write)
    {
        if (array.IsDefault)
        {
            w.WriteNil();
            return;
        }
        w.WriteArrayHeader(array.Length);
        foreach (var item in array) write(ref w, item);
    }

    private static ImmutableArray<T> Array<T>(ref MessagePackReader r, Reader<T> read)
    {
        if (r.TryReadNil()) return default;
        var count = ArrayCount(ref r);
        if (count == 0) return [];
        var builder = ImmutableArray.CreateBuilder<T>(count);
        for (var i = 0; i < count; i++) builder.Add(read(ref r));
        return builder.MoveToImmutable();
    }

    // Two overloads rather than one over an interface: the collections' own enumerators are structs (no allocation per map).
    private static void Map<T>(ref MessagePackWriter w, ImmutableSortedDictionary<string, T> map, Writer<T> write)
    {
        w.WriteMapHeader(map.Count);
        foreach (var (key, value) in map)
        {
            w.Write(key);
            write(ref w, value);
        }
    }

    private static void Map<T>(ref MessagePackWriter w, ImmutableDictionary<string, T> map, Writer<T> write)
    {
        w.WriteMapHeader(map.Count);
        foreach (var (key, value) in map)
        {
            w.Write(key);
            write(ref w, value);
        }
    }

    /// <summary>A sorted dictionary, always ordinal (as the domain builds them). <paramref name="shared"/>: its keys are
    /// low-cardinality (SKUs, categories, channels) and read as their shared instances.</summary>
    private static ImmutableSortedDictionary<string, T> SortedMap<T>(ref MessagePackReader r, Reader<T> read, bool shared)
    {
        var count = MapCount(ref r);
        if (count == 0) return OrdinalEmpty.Sorted<T>();
        var builder = ImmutableSortedDictionary.CreateBuilder<string, T>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++) builder.Add(shared ? Shared(ref r) : Text(ref r), read(ref r));
        return builder.ToImmutable();
    }

    /// <summary>A hash dictionary with the default string comparer (as <see cref="ShopperState"/> declares them).</summary>
    private static ImmutableDictionary<string, T> HashMap<T>(ref MessagePackReader r, Reader<T> read, bool shared = false)
    {
        var count = MapCount(ref r);
        if (count == 0) return ImmutableDictionary<string, T>.Empty;
        var builder = ImmutableDictionary.CreateBuilder<string, T>();
        for (var i = 0; i < count; i++) builder.Add(shared ? Shared(ref r) : Text(ref r), read(ref r));
        return builder.ToImmutable();
    }
}
