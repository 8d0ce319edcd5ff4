//! The names a model's price is looked up under: the config compiler writes the
//! price table under these names, and the filter looks a served model up under them
//! (LiteLLM's rules).

/// The names a model's price is looked up under, most specific first. LiteLLM's
/// rules (`litellm/utils.py` `_strip_model_name`, `_get_model_info_helper`): the
/// name itself; an OpenAI fine-tune `ft:<base>:<org>:<suffix>:<id>` as `ft:<base>`
/// (the fine-tune's own price); a dated snapshot `<name>-YYYY-MM-DD` as `<name>`.
/// Switchyard adds, for a fine-tune, its base model's name (`<base>`, dated then
/// undated): LiteLLM records $0 for a fine-tune whose `ft:` row it lacks, Switchyard
/// charges the base model's price.
pub fn price_names(model: &str) -> Vec<String> {
    let mut names = vec![model.to_string()];
    let push = |name: &str, names: &mut Vec<String>| {
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    };
    if let Some(rest) = model.strip_prefix("ft:") {
        // LiteLLM strips the last three `:` fields (org, suffix, id).
        let parts: Vec<&str> = rest.split(':').collect();
        let base = if parts.len() >= 4 {
            parts.get(..parts.len() - 3).map(|p| p.join(":"))
        } else {
            parts.first().map(|b| b.to_string())
        }
        .unwrap_or_default();
        if !base.is_empty() {
            push(&format!("ft:{base}"), &mut names);
            push(&format!("ft:{}", undated(&base)), &mut names);
            push(&base, &mut names);
            push(undated(&base), &mut names);
        }
    } else {
        push(undated(model), &mut names);
    }
    names
}

/// `name` without a `-YYYY-MM-DD` snapshot suffix (LiteLLM's
/// `_strip_dated_snapshot_suffix`).
pub fn undated(name: &str) -> &str {
    let bytes = name.as_bytes();
    let n = bytes.len();
    if n < 11 {
        return name;
    }
    let tail = bytes.get(n - 11..).unwrap_or_default();
    let digit = |i: usize| tail.get(i).is_some_and(u8::is_ascii_digit);
    let shaped = tail.first() == Some(&b'-')
        && (1..5).all(digit)
        && tail.get(5) == Some(&b'-')
        && (6..8).all(digit)
        && tail.get(8) == Some(&b'-')
        && (9..11).all(digit);
    if shaped {
        name.get(..n - 11).unwrap_or(name)
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_names_follow_litellm_and_fall_back_to_the_base_model() {
        assert_eq!(
            price_names("ft:gpt-4o-mini:my-org::abc123"),
            [
                "ft:gpt-4o-mini:my-org::abc123",
                "ft:gpt-4o-mini",
                "gpt-4o-mini"
            ]
        );
        assert_eq!(
            price_names("ft:gpt-4o-mini-2024-07-18:org:suffix:id"),
            [
                "ft:gpt-4o-mini-2024-07-18:org:suffix:id",
                "ft:gpt-4o-mini-2024-07-18",
                "ft:gpt-4o-mini",
                "gpt-4o-mini-2024-07-18",
                "gpt-4o-mini"
            ]
        );
        assert_eq!(
            price_names("gpt-4o-2024-08-06"),
            ["gpt-4o-2024-08-06", "gpt-4o"]
        );
        assert_eq!(price_names("gpt-4o"), ["gpt-4o"]);
        assert_eq!(price_names("ft:"), ["ft:"]);
        assert_eq!(
            price_names("ft:davinci-002"),
            ["ft:davinci-002", "davinci-002"]
        );
        assert_eq!(undated("x-2024-1-01"), "x-2024-1-01");
        assert_eq!(undated("-2024-01-01"), "");
        assert_eq!(undated("é-2024-01-01"), "é");
    }
}
