//! Synthetic request records the encoders' tests share.

use crate::cost::Usage;
use crate::observe::details::{CallbackMetadata, RequestDetails};
use crate::observe::record::{AttemptRecord, KeyLabels, RequestRecord};

/// The call id every synthetic record has.
pub const CALL_ID: &str = "0d2f6a1c-9b3e-4c5d-8e7f-a1b2c3d4e5f6";

/// A chat completion that succeeded on its first attempt: 1 s, first token after
/// 250 ms, 11 prompt tokens (3 from the cache) and 7 completion tokens, $0.00042.
pub fn success_record() -> RequestRecord {
    RequestRecord {
        call_id: CALL_ID.into(),
        route: "/v1/chat/completions".into(),
        call_type: "acompletion".into(),
        requested_model: "gpt-4".into(),
        stream: false,
        status: 200,
        error: None,
        start_ms: 1_796_647_936_000,
        end_ms: 1_796_647_937_000,
        key: KeyLabels {
            hashed_api_key: "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
                .into(),
            api_key_alias: "team-a-key".into(),
            team: "team-a".into(),
            team_alias: "Team A".into(),
            user: "user-1".into(),
        },
        end_user: "end-user-9".into(),
        attempts: vec![AttemptRecord {
            model_id: "dep-1".into(),
            model: "openai/gpt-4o".into(),
            model_group: "gpt-4o".into(),
            api_provider: "openai".into(),
            api_base: "https://api.openai.com/v1".into(),
            status: 200,
            fallback_index: 0,
            start_ms: 1_796_647_936_010,
            end_ms: 1_796_647_936_990,
            first_token_ms: Some(1_796_647_936_250),
            usage: Some(Usage {
                prompt_tokens: 11,
                completion_tokens: 7,
                cache_read_tokens: 3,
                cache_creation_tokens: 0,
            }),
            spend: 0.00042,
            // No error; later fields (added by other observers' branches) default.
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// [`success_record`] with the client's metadata, parameters and content.
pub fn detailed_record() -> RequestRecord {
    let mut record = success_record();
    record.details = Some(Box::new(RequestDetails {
        metadata: CallbackMetadata {
            trace_name: Some("support-bot".into()),
            generation_name: Some("answer".into()),
            trace_id: Some("conversation-42".into()),
            session_id: Some("session-7".into()),
            trace_user_id: Some("alice".into()),
            tags: vec!["prod".into(), "v2".into()],
        },
        model_parameters: vec![
            ("temperature", serde_json::json!(0.2)),
            ("max_tokens", serde_json::json!(64)),
        ],
        input: Some(serde_json::json!([{"role": "user", "content": "hi"}])),
        output: Some(crate::observe::AnswerOutput::from_text("Hello!")),
    }));
    record
}

/// A request the provider failed with a 500 after 2 s, no usage.
pub fn failed_record() -> RequestRecord {
    let mut record = success_record();
    record.status = 500;
    record.error = Some("litellm.InternalServerError: upstream exploded".into());
    record.end_ms = record.start_ms + 2_000;
    if let Some(a) = record.attempts.first_mut() {
        a.status = 500;
        a.first_token_ms = None;
        a.usage = None;
        a.spend = 0.0;
        a.error = Some("upstream exploded".into());
    }
    record
}
