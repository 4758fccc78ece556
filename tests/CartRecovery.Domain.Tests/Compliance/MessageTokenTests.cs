using CartRecovery.Domain.Compliance;
using Xunit;

namespace CartRecovery.Domain.Tests.Compliance;

public class MessageTokenTests
{
    private static readonly ComplianceKeys Keys = ComplianceKeys.Development;

    [Fact]
    public void An_unsubscribe_token_is_deterministic_and_verifies_to_its_scope()
    {
        var token = MessageTokens.Unsubscribe(Keys, "cust-1", "cart_recovery", "email");
        Assert.Equal(token, MessageTokens.Unsubscribe(Keys, "cust-1", "cart_recovery", "email"));
        Assert.NotEqual(token, MessageTokens.Unsubscribe(Keys, "cust-1", "cart_recovery", "sms"));
        var claims = MessageTokens.Verify(Keys, token);
        Assert.NotNull(claims);
        Assert.Equal((TokenClaims.Unsubscribe, "cust-1", "cart_recovery", "email"), (claims.Kind, claims.ShopperId, claims.Scope[0], claims.Scope[1]));
    }

    [Fact]
    public void A_resume_token_names_shopper_session_and_trigger()
    {
        var claims = MessageTokens.Verify(Keys, MessageTokens.Resume(Keys, "cust-1", "s-9", "trig-1"));
        Assert.Equal((TokenClaims.Resume, "cust-1", "s-9", "trig-1"), (claims!.Kind, claims.ShopperId, claims.Scope[0], claims.Scope[1]));
    }

    [Fact]
    public void A_token_signed_with_another_key_or_edited_does_not_verify()
    {
        var token = MessageTokens.Unsubscribe(Keys, "cust-1", "cart_recovery", "email");
        Assert.Null(MessageTokens.Verify(new ComplianceKeys("another-token-key-0123456789", "another-pseudonym-key-0123", "another-record-key-0123456"), token));
        var forged = MessageTokens.Unsubscribe(Keys, "cust-2", "cart_recovery", "email").Split('.')[2];
        var parts = token.Split('.');
        Assert.Null(MessageTokens.Verify(Keys, string.Join('.', parts[0], parts[1], forged, parts[3])));
        Assert.Null(MessageTokens.Verify(Keys, "garbage"));
        Assert.Null(MessageTokens.Verify(Keys, "unsubscribe.v1.%%%.%%%"));
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
