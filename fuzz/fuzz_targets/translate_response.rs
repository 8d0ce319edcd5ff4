//! Every response translator on any bytes as the provider's body:
//! `providers::translate_response` (successful, non-streamed answers) for every
//! provider and endpoint, `providers::translate_error` for every provider at the
//! statuses the upstream stage can meet (anything not 2xx, unparsable ones as 0),
//! and `providers::classify_error` (error fallbacks). (Azure errors map with
//! OpenAI's function and are not run twice.)
//!
//! Checked: a translated answer is a JSON object (OpenAI-compatible providers pass
//! the bytes untouched), an error is OpenAI-shaped with the provider's status kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_filter::providers::{
    classify_error, rewrites_response, translate_error, translate_response, ProviderKind,
    ResponseContext,
};
use switchyard_fuzz::{assert_error_body, assert_json_object, ENDPOINTS, PROVIDERS};

/// Statuses with a mapping of their own, and odd ones (0 is an unparsable status).
const ERROR_STATUSES: [u16; 7] = [0, 302, 400, 413, 429, 529, 999];

fuzz_target!(|data: &[u8]| {
    let ctx = ResponseContext {
        created: 1_700_000_000,
        model: "claude-sonnet-4-5".into(),
        include_usage: false,
    };
    for provider in PROVIDERS {
        for endpoint in ENDPOINTS {
            match translate_response(provider, endpoint, data, &ctx) {
                Ok(out) if rewrites_response(provider) => {
                    assert_json_object(&out, "a translated answer");
                }
                Ok(out) => assert_eq!(out, data, "{provider:?} answers pass untouched"),
                Err(err) => {
                    assert!(rewrites_response(provider), "{provider:?} failed: {err}");
                    assert!(err.status >= 400, "{err}");
                    assert_error_body(&err.to_body());
                }
            }
        }
        if provider == ProviderKind::Azure {
            // The same error mapping as OpenAI's.
            continue;
        }
        for status in ERROR_STATUSES {
            let err = translate_error(provider, status, data);
            assert!(
                err.status == status
                    || (status == 529 && err.status == 503)
                    || err.status == 413
                    // Cohere's key errors are 401 whatever 4xx carries them (LiteLLM).
                    || (provider == ProviderKind::Cohere
                        && (400..500).contains(&status)
                        && err.status == 401),
                "{provider:?} {status} became {}",
                err.status
            );
            if status == 400 {
                // The body is built the same way at every status (serializing it
                // under instrumentation is most of a run's time).
                assert_error_body(&err.to_body());
            }
        }
    }
    for status in [400, 413, 422, 500] {
        let kind = classify_error(status, data);
        assert!(
            kind.is_none() || status != 500,
            "a 500 has no error fallback"
        );
    }
});
