//! The upstream stage in debug mode: each attempt is logged as LiteLLM's debug output
//! shows a provider call (`debug_log`), credentials masked, then its status; off,
//! nothing is logged.

use serde_json::json;

use super::tests::{cluster, config, env, request, send};
use super::*;
use crate::host::tests::MockHost;
use crate::plugin_config::{AwsSigning, Setting};

fn debug_cluster(deployments: &[DeploymentConfig]) -> Upstream {
    let mut c = cluster(deployments);
    c.debug = true;
    Upstream::new(&c, &env).unwrap()
}

fn info_lines(host: &MockHost) -> Vec<String> {
    host.logs
        .borrow()
        .iter()
        .filter(|(level, _)| *level == Level::Info)
        .map(|(_, m)| m.clone())
        .collect()
}

fn answer(up: &Upstream, ex: &mut UpstreamExchange, host: &mut MockHost, status: u16) {
    host.response_headers = vec![
        (":status".into(), status.to_string()),
        ("content-type".into(), "application/json".into()),
    ];
    ex.on_response_headers(up, host, false);
}

#[test]
fn each_attempt_is_logged_with_its_status_and_no_key() {
    let up = debug_cluster(&[config(ProviderKind::Openai, "gpt-4o-2024")]);
    let mut host = request(
        "chat_completions",
        json!({"model": "client-model", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let (mut ex, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue);
    answer(&up, &mut ex, &mut host, 429);
    let lines = info_lines(&host);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let curl: Vec<&str> = lines[0].lines().collect();
    assert_eq!(curl[0], "POST Request Sent from LiteLLM:");
    assert_eq!(curl[1], "curl -X POST \\");
    assert_eq!(curl[2], "https://api.example.com/v1/chat/completions \\");
    assert!(
        curl[3].contains("-H 'authorization: Be****et'"),
        "the deployment's key, masked: {}",
        curl[3]
    );
    assert!(curl[3].contains("-H 'x-extra: 1'"), "{}", curl[3]);
    // The body the provider gets: its model id and the deployment's defaults.
    assert_eq!(
        curl[4],
        r#"-d '{"model":"gpt-4o-2024","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"seed":7}'"#
    );
    assert_eq!(
        lines[1],
        "Provider status: 429 for POST https://api.example.com/v1/chat/completions (model group g, deployment dep-1, attempt 1)"
    );
    let all = lines.join("\n");
    assert!(!all.contains("sk-secret"), "{all}");
    assert!(!all.contains("sk-virtual-key"), "{all}");
}

#[test]
fn off_by_default_nothing_is_logged() {
    let up = Upstream::new(&cluster(&[config(ProviderKind::Openai, "m")]), &env).unwrap();
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let (mut ex, _) = send(&up, &mut host);
    answer(&up, &mut ex, &mut host, 200);
    ex.on_done(&up, &host);
    assert!(info_lines(&host).is_empty());
    assert!(ex.debug_target.is_none());
}

#[test]
fn an_attempt_without_answer_is_logged_as_such() {
    let up = debug_cluster(&[config(ProviderKind::Openai, "m")]);
    let mut host = request("chat_completions", json!({"model": "x", "messages": []}));
    let (ex, _) = send(&up, &mut host);
    ex.on_done(&up, &host);
    let lines = info_lines(&host);
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].starts_with("Provider status: none (no answer"),
        "{}",
        lines[1]
    );
}

#[test]
fn bedrock_signatures_and_aws_secrets_are_masked() {
    let mut cfg = config(ProviderKind::Bedrock, "amazon.nova-lite-v1:0");
    cfg.api_base = Setting::Literal("http://127.0.0.1:9".into());
    cfg.api_key = None;
    cfg.default_params = Map::new();
    cfg.aws = Some(AwsSigning {
        region: "us-east-1".into(),
        access_key_id: Setting::Literal("AKIDEXAMPLE0001".into()),
        secret_access_key: Setting::Env { env: "KEY".into() },
        session_token: Some(Setting::Literal("session-token-xyz".into())),
    });
    let up = debug_cluster(&[cfg]);
    let mut host = request(
        "chat_completions",
        json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let (_, flow) = send(&up, &mut host);
    assert_eq!(flow, Flow::Continue, "{:?}", host.local_reply);
    let signature = host
        .req("authorization")
        .and_then(|a| a.split("Signature=").nth(1).map(str::to_string))
        .unwrap();
    let text = info_lines(&host).join("\n");
    assert!(text.starts_with("POST Request Sent from LiteLLM:\ncurl -X POST \\\nhttp://127.0.0.1:9/model/amazon.nova-lite-v1%3A0/converse \\\n"), "{text}");
    for secret in [
        signature.as_str(),
        "sk-secret",
        "AKIDEXAMPLE0001",
        "session-token-xyz",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("-H 'x-amz-date: "), "{text}");
}
