//! The real per-request entry points, response side: a request is routed (router
//! stage) and translated (upstream stage) for one deployment, then the fuzz payload
//! is the provider's answer, delivered in fuzzer-chosen chunks through
//! `UpstreamExchange::on_response_headers` / `on_response_body` the way Envoy does
//! (a paused body is buffered and handed over whole with the next piece). Covers
//! whole-body translation, error mapping, error-fallback redirects, streams, usage,
//! cost and spend reports.
//!
//! Input: `Framed` (see `src/lib.rs`). `flags[0]`: bits 0–1 (and `flags[1]` bit 7
//! above them) the deployment, bits 2–3
//! the endpoint (3, which would repeat chat, picks chat and moves the deployment
//! index up by 8, reaching the deployments past the eighth), bit 4 `stream`, bit 5 `stream_options.include_usage`, bit 6 keys
//! checked (spend reports queued), bit 7 the request is an error-fallback replay.
//! `extra`: the answer does not finish (its last chunk never comes; Envoy ends the
//! attempt, which reports what began).
//! `flags[1]`: bits 0–3 the upstream status, bit 4 headers end the response, bit 5
//! a `content-type` of `text/event-stream`, bit 6 every number in the answer moved
//! next to `u64::MAX` (`near_u64_max`).
//!
//! Checked: an upstream error leaves as an OpenAI-shaped error or as a redirect to
//! the next error-fallback group; an Anthropic or Ollama stream leaves as OpenAI SSE ending in
//! `[DONE]`; a translated answer is JSON; OpenAI-compatible answers pass untouched;
//! spend reports are JSON, one per attempt, with a finite non-negative spend (an
//! attempt Envoy ends after its answer is not reported again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use switchyard_filter::endpoint::Endpoint;
use switchyard_filter::host::Flow;
use switchyard_filter::host::tests::MockHost;
use switchyard_filter::spend::KeyFacts;
use switchyard_fuzz::{
    assert_error_body, assert_json_object, azure_stream_untouched, check_local_reply, gateway,
    near_u64_max, openai_sse_events, send_request_as, Framed, DEPLOYMENTS, ENDPOINTS,
};

const STATUSES: [&str; 16] = [
    "200", "200", "201", "400", "401", "404", "413", "422", "429", "500", "503", "529", "302",
    "abc", "204", "200",
];

fuzz_target!(|data: &[u8]| {
    let input = Framed::parse(data);
    let boundary;
    let input = if input.bit(14) {
        boundary = near_u64_max(input.payload);
        input.with_payload(&boundary)
    } else {
        input
    };
    let gw = gateway();
    let high = if (input.flags[0] >> 2) & 3 == 3 { 8 } else { 0 };
    let deployment = DEPLOYMENTS[((usize::from(input.flags[0] & 3)
        | usize::from(input.flags[1] >> 7) << 2)
        + high)
        % DEPLOYMENTS.len()];
    let endpoint = ENDPOINTS[usize::from((input.flags[0] >> 2) & 3) % 3];
    let stream = input.bit(4);
    let include_usage = input.bit(5);
    let mut request = match endpoint {
        Endpoint::ChatCompletions => {
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]})
        }
        Endpoint::Completions => json!({"model": "gpt-4o", "prompt": "Hi", "max_tokens": 5}),
        Endpoint::Embeddings => json!({"model": "gpt-4o", "input": "Hi"}),
    };
    if stream {
        request["stream"] = json!(true);
        if include_usage {
            request["stream_options"] = json!({"include_usage": true});
        }
    }
    let path = if input.bit(7) {
        format!(
            "/switchyard-fallback/context_window/0/gpt-4o/v1/{}",
            endpoint.openai_path()
        )
    } else {
        format!("/v1/{}", endpoint.openai_path())
    };
    let key = KeyFacts {
        key_hash: "hash".into(),
        user_id: "user".into(),
        team_id: String::new(),
        lease: "lease-1".into(),
        admission: "adm-1".into(),
        key_alias: "alias".into(),
        team_alias: String::new(),
    };
    let body = serde_json::to_vec(&request).expect("request JSON");
    let (mut host, ex) =
        send_request_as(gw, &path, &body, deployment, input.bit(6).then_some(&key));
    let Some(mut ex) = ex else {
        return;
    };
    if host.local_reply.is_some() {
        // The request itself was refused (Anthropic has no embeddings).
        return;
    }

    let status = STATUSES[usize::from(input.flags[1] & 0x0f)];
    let upstream_ok = status.starts_with('2');
    let content_type = if input.bit(13) {
        "text/event-stream"
    } else {
        "application/json"
    };
    let length = input.payload.len().to_string();
    host.response_headers = vec![
        (":status".into(), status.into()),
        ("content-type".into(), content_type.into()),
        ("content-length".into(), length),
    ];
    let headers_end = input.bit(12);
    let flow = ex.on_response_headers(&gw.upstream, &mut host, headers_end);
    if host.local_reply.is_some() {
        assert!(headers_end && !upstream_ok);
        assert_eq!(flow, Flow::Pause);
        check_local_reply(&host);
        return;
    }
    if headers_end {
        return;
    }
    // Held headers: the body is read whole before anything goes on (a plain
    // answer, or a stream the gateway replays itself), so its status may change.
    let held = flow == Flow::Pause;

    let chunks = input.chunks();
    if input.extra {
        // The answer does not finish (the client left, the provider cut it, it
        // outgrew Envoy's buffer): no end of stream, then Envoy ends the attempt.
        // What began is reported once, its spend finite and never negative.
        for chunk in chunks.iter().take(chunks.len().saturating_sub(1)) {
            host.response_body.extend_from_slice(chunk);
            let size = host.response_body.len();
            if ex.on_response_body(&gw.upstream, &mut host, size, false) == Flow::Continue {
                host.response_body.clear();
            }
        }
        ex.on_done(&gw.upstream, &host);
        check_reports(&host);
        return;
    }
    let mut out = Vec::new();
    let mut flow = Flow::Continue;
    for (i, chunk) in chunks.iter().enumerate() {
        host.response_body.extend_from_slice(chunk);
        let size = host.response_body.len();
        flow = ex.on_response_body(&gw.upstream, &mut host, size, i + 1 == chunks.len());
        if flow == Flow::Continue {
            out.append(&mut host.response_body);
        }
    }
    assert_eq!(flow, Flow::Continue, "the whole answer went on");
    assert!(host.local_reply.is_none());

    let final_status = host.resp(":status").unwrap_or_default();
    // Deployments whose answers are rewritten (Anthropic, Ollama, Gemini, Cohere,
    // TGI, Bedrock); the rest speak OpenAI's format.
    let anthropic = matches!(
        deployment,
        "cl" | "cl-drop" | "ol" | "og" | "ge" | "co" | "hg" | "br"
    );
    if !upstream_ok {
        if final_status == "307" {
            let location = host.resp("location").expect("a redirect has a location");
            assert!(location.starts_with("https://switchyard.internal/switchyard-fallback/"));
            assert!(out.is_empty());
        } else {
            assert_error_body(&out);
        }
    } else if final_status != status {
        // A successful answer, held whole, that could not be translated; a
        // streamed one has sent its status and can only end in an error event.
        assert!(
            anthropic && held,
            "{deployment}: {status} became {final_status}"
        );
        assert_error_body(&out);
    } else if stream && anthropic {
        let events = openai_sse_events(&out);
        assert_eq!(events.last(), Some(&json!("[DONE]")), "[DONE] comes last");
    } else if stream
        && include_usage
        && (deployment != "az" || azure_stream_untouched(input.payload))
    {
        assert_eq!(out, input.payload, "the client asked for usage: untouched");
    } else if anthropic {
        assert_json_object(&out, "a translated answer");
    } else if !stream {
        assert_eq!(
            out, input.payload,
            "OpenAI-compatible answers pass untouched"
        );
    }
    // Envoy ends the attempt: an answered one is not reported again.
    ex.on_done(&gw.upstream, &host);
    check_reports(&host);
});

/// Every spend report queued on `host` since the last check is JSON with a request
/// id and a finite, non-negative spend; at most one per attempt.
fn check_reports(host: &MockHost) {
    let due = host.take_spend_reports();
    assert!(due.len() <= 1, "one report per attempt: {}", due.len());
    for report in due {
        let v: Value = serde_json::from_slice(&report).expect("a spend report is JSON");
        assert!(v.get("request_id").is_some_and(Value::is_string));
        let spend = v["spend"].as_f64().expect("spend is a number");
        assert!(spend.is_finite() && spend >= 0.0, "spend {spend}");
    }
}
