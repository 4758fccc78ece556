using CartRecovery.Domain.Compliance;
using Xunit;

namespace CartRecovery.Domain.Tests.Compliance;

public class MessageTokenTests
{
    private static readonly ComplianceKeys Keys = ComplianceKeys.Development;

    // Fixed instants far from any "now": expiry is always checked against an instant the test gives.
    private static readonly DateTimeOffset Issued = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Expires = Issued.AddDays(90);

    private static string UnsubscribeToken(string shopper = "cust-1", string channel = "email") =>
        MessageTokens.Unsubscribe(Keys, shopper, "cart_recovery", channel, "trig-1", Expires);

    [Fact]
    public void An_unsubscribe_token_is_deterministic_and_verifies_to_its_scope()
    {
        var token = UnsubscribeToken();
        Assert.Equal(token, UnsubscribeToken());
        Assert.NotEqual(token, UnsubscribeToken(channel: "sms"));
        var claims = MessageTokens.Verify(Keys, token);
        Assert.NotNull(claims);
        Assert.Equal((TokenClaims.Unsubscribe, "cust-1", "cart_recovery", "email", "trig-1", Expires),
            (claims.Kind, claims.ShopperId, claims.Purpose, claims.Channel, claims.TriggerId, claims.ExpiresAt));
    }

    [Fact]
    public void A_resume_token_carries_shopper_session_trigger_step_and_the_cart_lines()
    {
        var token = MessageTokens.Resume(Keys, "cust-1", "s-9", "trig-1", Expires, "checkout",
            [new TokenCartLine("kettle-06", 2), new TokenCartLine("mug/blue:large", 1)]);
        var claims = MessageTokens.Verify(Keys, token)!;
        Assert.Equal((TokenClaims.Resume, "cust-1", "s-9", "trig-1", "checkout", 0),
            (claims.Kind, claims.ShopperId, claims.SessionId, claims.TriggerId, claims.CheckoutStep, claims.LinesOmitted));
        Assert.Equal([new TokenCartLine("kettle-06", 2), new TokenCartLine("mug/blue:large", 1)], claims.Lines);
    }

    [Fact]
    public void A_resume_token_of_a_huge_cart_carries_its_first_lines_and_counts_the_rest()
    {
        var lines = Enumerable.Range(0, 100).Select(i => new TokenCartLine($"sku-{i:D3}-{new string('x', 40)}", 1)).ToList();
        var token = MessageTokens.Resume(Keys, "cust-1", "s-9", "trig-1", Expires, "cart", lines, linesOmitted: 5);
        var claims = MessageTokens.Verify(Keys, token)!;
        Assert.InRange(claims.Lines.Count, 1, 99);
        Assert.Equal(lines.Take(claims.Lines.Count), claims.Lines);
        Assert.Equal(105 - claims.Lines.Count, claims.LinesOmitted);
        Assert.True(token.Length < 2000, $"a resume token of {token.Length} characters");
    }

    [Fact]
    public void Tokens_are_opaque_no_shopper_session_or_sku_is_readable_in_them()
    {
        const string shopper = "cust-5-000228";
        var unsubscribe = MessageTokens.Unsubscribe(Keys, shopper, "cart_recovery", "email", "trig-77", Expires);
        var resume = MessageTokens.Resume(Keys, shopper, "sess-5-000228-0", "trig-77", Expires, "payment", [new TokenCartLine("kettle-06", 2)]);
        foreach (var token in new[] { unsubscribe, resume })
        {
            // Neither in the text of the link nor in any of its decoded parts.
            var parts = token.Split('.');
            var decoded = string.Concat(parts.Skip(2).Select(p => System.Text.Encoding.Latin1.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(p))));
            foreach (var secret in new[] { shopper, "000228", "sess-5", "trig-77", "kettle", "cart_recovery" })
            {
                Assert.DoesNotContain(secret, token);
                Assert.DoesNotContain(secret, decoded);
            }
        }
    }

    [Fact]
    public void A_token_is_valid_until_its_expiry_and_expired_from_then_on()
    {
        var token = UnsubscribeToken();
        Assert.Equal(TokenStatus.Valid, MessageTokens.Check(Keys, token, Expires.AddSeconds(-1)).Status);
        var expired = MessageTokens.Check(Keys, token, Expires);
        Assert.Equal(TokenStatus.Expired, expired.Status);
        Assert.Equal("cust-1", expired.Claims!.ShopperId);
        Assert.Equal(TokenStatus.Invalid, MessageTokens.Check(Keys, "garbage", Issued).Status);
    }

    [Fact]
    public void A_token_of_another_key_or_edited_or_relabelled_does_not_verify()
    {
        var token = UnsubscribeToken();
        Assert.Null(MessageTokens.Verify(new ComplianceKeys("another-token-key-0123456789", "another-pseudonym-key-0123", "another-record-key-0123456"), token));
        var parts = token.Split('.');
        // Another token's nonce or ciphertext spliced in, one byte flipped, the kind changed: all refused.
        var other = UnsubscribeToken(shopper: "cust-2").Split('.');
        Assert.Null(MessageTokens.Verify(Keys, string.Join('.', parts[0], parts[1], other[2], parts[3])));
        Assert.Null(MessageTokens.Verify(Keys, string.Join('.', parts[0], parts[1], parts[2], other[3])));
        var flipped = System.Buffers.Text.Base64Url.DecodeFromChars(parts[3]);
        flipped[3] ^= 1;
        Assert.Null(MessageTokens.Verify(Keys, string.Join('.', parts[0], parts[1], parts[2], System.Buffers.Text.Base64Url.EncodeToString(flipped))));
        Assert.Null(MessageTokens.Verify(Keys, string.Join('.', TokenClaims.Resume, parts[1], parts[2], parts[3])));
        Assert.Null(MessageTokens.Verify(Keys, string.Join('.', parts[0], "v1", parts[2], parts[3])));
        Assert.Null(MessageTokens.Verify(Keys, "garbage"));
        Assert.Null(MessageTokens.Verify(Keys, "unsubscribe.v2.%%%.%%%"));
        Assert.Null(MessageTokens.Verify(Keys, "unsubscribe.v2.AAAA.AAAA"));
    }

    [Fact]
    public void Pseudonyms_are_keyed_and_stable()
    {
        Assert.Equal(Keys.Pseudonym("cust-1"), Keys.Pseudonym("cust-1"));
        Assert.NotEqual(Keys.Pseudonym("cust-1"), Keys.Pseudonym("cust-2"));
        Assert.NotEqual(Keys.Pseudonym("cust-1"), new ComplianceKeys("another-token-key-0123456789", "another-pseudonym-key-0123", "another-record-key-0123456").Pseudonym("cust-1"));
        Assert.DoesNotContain("cust-1", Keys.Pseudonym("cust-1"));
    }

    [Fact]
    public void Session_pseudonyms_are_keyed_per_shopper_stable_and_keep_an_empty_session_empty()
    {
        Assert.Equal(Keys.SessionPseudonym("cust-1", "sess-1-0"), Keys.SessionPseudonym("cust-1", "sess-1-0"));
        // Storefronts reuse session ids across shoppers: two shoppers' sessions stay two sessions.
        Assert.NotEqual(Keys.SessionPseudonym("cust-1", "sess-1-0"), Keys.SessionPseudonym("cust-2", "sess-1-0"));
        Assert.NotEqual(Keys.SessionPseudonym("cust-1", "sess-1-0"), Keys.SessionPseudonym("cust-1", "sess-1-1"));
        Assert.NotEqual(Keys.SessionPseudonym("cust-1", "sess-1-0"),
            new ComplianceKeys("another-token-key-0123456789", "another-pseudonym-key-0123", "another-record-key-0123456789").SessionPseudonym("cust-1", "sess-1-0"));
        Assert.DoesNotContain("sess-1", Keys.SessionPseudonym("cust-1", "sess-1-0"));
        Assert.Equal("", Keys.SessionPseudonym("cust-1", ""));
    }

    [Fact]
    public void Short_keys_are_refused_naming_the_variable()
    {
        var error = Assert.Throws<ArgumentException>(() => new ComplianceKeys("short", "another-pseudonym-key-0123", "another-record-key-0123456"));
        Assert.Contains(ComplianceKeys.TokenKeySetting, error.Message);
    }

    [Fact]
    public void Without_keys_only_an_explicit_development_flag_gives_the_public_keys()
    {
        Assert.Same(ComplianceKeys.Development, ComplianceKeys.From(null, "", null, allowDevelopment: true));
        var none = Assert.Throws<ArgumentException>(() => ComplianceKeys.From(null, null, null, allowDevelopment: false));
        Assert.StartsWith($"{ComplianceKeys.TokenKeySetting} is not set", none.Message);
        Assert.Contains(ComplianceKeys.AllowDevelopmentSetting, none.Message);
        // Half-configured is a mistake whatever the flag: the missing key is named.
        var partial = Assert.Throws<ArgumentException>(() => ComplianceKeys.From("another-token-key-0123456789", "another-pseudonym-key-0123", null, allowDevelopment: true));
        Assert.StartsWith($"{ComplianceKeys.RecordKeySetting} is not set", partial.Message);
        Assert.False(ComplianceKeys.From("another-token-key-0123456789", "another-pseudonym-key-0123", "another-record-key-0123456", allowDevelopment: false).IsDevelopment);
    }

    [Fact]
    public void A_record_MAC_binds_topic_key_and_exact_bytes_under_the_record_key()
    {
        var value = "{\"type\":\"identity_merged\"}"u8.ToArray();
        var key = "cust-1"u8.ToArray();
        var mac = Keys.SignRecord("cart-events", key, value);
        Assert.True(Keys.VerifyRecord("cart-events", key, value, mac));
        Assert.False(Keys.VerifyRecord("cart-events", key, [.. value, (byte)' '], mac));
        Assert.False(Keys.VerifyRecord("order-events", key, value, mac));
        Assert.False(Keys.VerifyRecord("cart-events", "cust-2"u8, value, mac));
        Assert.False(Keys.VerifyRecord("cart-events", key, value, mac.AsSpan(0, 16)));
        var other = new ComplianceKeys("another-token-key-0123456789", "another-pseudonym-key-0123", "another-record-key-0123456");
        Assert.False(other.VerifyRecord("cart-events", key, value, mac));
        // Key and value cannot trade bytes.
        Assert.False(Keys.VerifyRecord("cart-events", "cust-1{"u8, value.AsSpan(1), mac));
    }
}
