//! Every request translator (`providers::translate_request`) for every provider and
//! endpoint, on any JSON object. The translators normally see requests the upstream
//! stage already checked; here they get anything, and must answer with a JSON body
//! or an OpenAI-shaped error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use switchyard_filter::providers::translate_request;
use switchyard_fuzz::{assert_error_body, assert_json_object, ENDPOINTS, PROVIDERS};

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for provider in PROVIDERS {
        for endpoint in ENDPOINTS {
            for api_version in [None, Some("2024-06-01")] {
                match translate_request(provider, endpoint, &request, "model/id *", api_version) {
                    Ok(out) => {
                        assert!(out.path.starts_with('/'), "path {:?}", out.path);
                        assert_json_object(&out.body, "a translated request");
                    }
                    Err(err) => {
                        assert!((400..600).contains(&err.status), "{err}");
                        assert_error_body(&err.to_body());
                    }
                }
            }
        }
    }
});
