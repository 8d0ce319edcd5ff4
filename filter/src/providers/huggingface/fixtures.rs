//! Test fixtures shared by the unit tests of the huggingface modules.

use super::*;

use crate::plugin_config::RoleTemplate;

pub(super) fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

pub(super) fn chatml() -> PromptTemplate {
    let role = |pre: &str, post: &str| RoleTemplate {
        pre_message: pre.into(),
        post_message: post.into(),
    };
    PromptTemplate {
        initial_prompt_value: "<start>".into(),
        roles: [
            (
                "system".to_string(),
                role("<|im_start|>system\n", "<|im_end|>\n"),
            ),
            (
                "user".to_string(),
                role("<|im_start|>user\n", "<|im_end|>\n"),
            ),
            (
                "assistant".to_string(),
                role("<|im_start|>assistant\n", "<|im_end|>\n"),
            ),
            ("tool".to_string(), role("[TOOL]", "")),
        ]
        .into(),
        final_prompt_value: "<|im_start|>assistant\n".into(),
        bos_token: "<s>".into(),
        eos_token: "</s>".into(),
    }
}

pub(super) fn ctx(include_usage: bool) -> ResponseContext {
    ResponseContext {
        created: 1_700_000_000,
        model: "tgi-model".into(),
        include_usage,
    }
}
