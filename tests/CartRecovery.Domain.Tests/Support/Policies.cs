using System.Text.Json;
using System.Text.Json.Nodes;
using CartRecovery.Domain.Policy;

namespace CartRecovery.Domain.Tests.Support;

/// <summary>The default policy and modified copies of it, either as records (<c>with</c>) or by editing the
/// default policy file's JSON text and parsing it again (so the variant goes through validation).</summary>
public static class Policies
{
    public static RecoveryPolicy Default => PolicyFile.LoadDefault();

    /// <summary>The default policy without holdout, so rule tests are not at the mercy of the holdout hash.</summary>
    public static RecoveryPolicy NoHoldout => WithoutHoldouts(Default);

    /// <summary><paramref name="policy"/> without the cart holdout and without the chat holdout of every segment.</summary>
    public static RecoveryPolicy WithoutHoldouts(RecoveryPolicy policy) => policy with
    {
        HoldoutShare = 0,
        Segments = [.. policy.Segments.Select(s => s with { Assist = s.Assist with { HoldoutShare = 0 } })],
    };

    /// <summary>The default policy file as a mutable JSON tree.</summary>
    public static JsonNode DefaultJson() =>
        JsonNode.Parse(PolicyFile.DefaultText(), documentOptions: new JsonDocumentOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        })!;

    /// <summary>The default policy file's text after <paramref name="edit"/>.</summary>
    public static string EditedText(Action<JsonNode> edit)
    {
        var root = DefaultJson();
        edit(root);
        return root.ToJsonString();
    }

    public static RecoveryPolicy Edited(Action<JsonNode> edit) => PolicyFile.Parse(EditedText(edit));

    /// <summary>The default policy with the 72 h incentive step enabled (in every segment that lists it), the given
    /// per-cart cap, and no holdout.</summary>
    public static RecoveryPolicy ThreeSteps(int perCart) => Edited(root =>
    {
        root["defaults"]!["steps"]![2]!["enabled"] = true;
        root["defaults"]!["caps"]!["per_cart"] = perCart;
        foreach (var segment in root["segments"]!.AsArray())
            if (segment!["steps"] is JsonArray steps)
                steps[2]!["enabled"] = true;
    }) with { HoldoutShare = 0 };
}
