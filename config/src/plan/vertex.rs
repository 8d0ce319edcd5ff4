//! Vertex AI deployments (`vertex_ai/…`): where they are and how they authenticate.
//!
//! As LiteLLM (`VertexBase.get_vertex_ai_project` / `…_location` /
//! `…_credentials`, `_get_vertex_url`):
//!
//! - **Project**: `vertex_project`, else `VERTEXAI_PROJECT`, else the service
//!   account's `project_id`.
//! - **Location**: `vertex_location`, else `VERTEXAI_LOCATION`, else
//!   `VERTEX_LOCATION`, else `us-central1`.
//! - **Address**: `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}`
//!   (`https://aiplatform.googleapis.com/…` for `global`). An `api_base` replaces
//!   the scheme and host (a proxy, or a test server); the `/v1/projects/…` path is
//!   still added. (LiteLLM treats a Vertex `api_base` as the whole URL up to the
//!   method; Switchyard keeps building the model's path.)
//! - **Credentials**: a service account key, from `vertex_credentials` (a key file
//!   path, the key file's JSON as a string or a mapping, or `os.environ/NAME`
//!   holding either), else `VERTEXAI_CREDENTIALS`, else the file named by
//!   `GOOGLE_APPLICATION_CREDENTIALS`. Only service-account keys work: the gateway
//!   signs its own token requests (LiteLLM's other Application Default Credentials,
//!   a `gcloud` user login or a metadata server, are not available inside Envoy).
//!   A key given as `os.environ/NAME` holding JSON stays in that variable (the
//!   filter reads it inside Envoy); a key read from a file or written in the config
//!   is copied into the rendered plugin configuration, with a warning.
//! - **Token endpoint**: the key's `token_uri` gets an Envoy cluster of its own
//!   ([`token_cluster_name`]), which the filter calls for access tokens.

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;
use serde_yaml::Value;
use switchyard_contract::google_auth::ServiceAccountKey as ServiceAccount;
use switchyard_contract::plugin_config::{GoogleAuthConfig, Setting};

use crate::litellm::{check_env_name, env_ref, resolve_string, ConfigError, LitellmParams};
use crate::plan::{parse_api_base, UpstreamAddress};

/// LiteLLM's default location.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// What a Vertex deployment needs, resolved at compile time.
#[derive(Debug)]
pub struct VertexPlan {
    /// The deployment's `api_base`: endpoint, project and location.
    pub api_base: Setting,
    /// Where its cluster connects.
    pub address: UpstreamAddress,
    /// Its service account and token cluster.
    pub google_auth: GoogleAuthConfig,
    /// Where the token cluster connects.
    pub token_address: UpstreamAddress,
    /// (config path, message) warnings.
    pub warnings: Vec<(String, String)>,
    /// Variables the filter reads inside Envoy.
    pub env_keys: Vec<String>,
}

/// The Envoy cluster name of a token endpoint.
pub fn token_cluster_name(address: &UpstreamAddress) -> String {
    let host: String = address
        .host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("google_token_{host}_{}", address.port)
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '_'))
}

/// A project or location: the entry's value (`os.environ/` resolved now: it goes
/// into the address), else the first variable that is set.
fn setting(
    file: &str,
    path: &str,
    value: Option<&String>,
    vars: &[&str],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    if let Some(v) = value {
        return resolve_string(file, path, v, lookup).map(Some);
    }
    Ok(vars
        .iter()
        .find_map(|var| lookup(var).filter(|v| !v.is_empty())))
}

/// Compiles a `vertex_ai/` entry. `p` is `model_list[i]`; `api_base` the entry's
/// (value, config path), if any.
pub fn plan(
    file: &str,
    p: &str,
    lp: &LitellmParams,
    api_base: Option<(String, String)>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<VertexPlan, ConfigError> {
    let lpp = format!("{p}.litellm_params");
    let mut warnings = Vec::new();
    let mut env_keys = Vec::new();
    let (credentials, account) = credentials(file, &lpp, lp, lookup, &mut warnings, &mut env_keys)?;

    let project = setting(
        file,
        &format!("{lpp}.vertex_project"),
        lp.vertex_project.as_ref(),
        &["VERTEXAI_PROJECT"],
        lookup,
    )?
    .or_else(|| account.project_id.clone())
    .ok_or_else(|| {
        ConfigError::at(
            file,
            format!("{lpp}.vertex_project"),
            "vertex_ai deployments need a project: set vertex_project, VERTEXAI_PROJECT, or use a service account key that names its project_id",
        )
    })?;
    let location = setting(
        file,
        &format!("{lpp}.vertex_location"),
        lp.vertex_location.as_ref(),
        &["VERTEXAI_LOCATION", "VERTEX_LOCATION"],
        lookup,
    )?
    .unwrap_or_else(|| DEFAULT_LOCATION.to_string());
    for (field, value) in [("vertex_project", &project), ("vertex_location", &location)] {
        if !valid_segment(value) {
            return Err(ConfigError::at(
                file,
                format!("{lpp}.{field}"),
                format!(
                    "{value:?} is not a valid Google Cloud {}",
                    field.trim_start_matches("vertex_")
                ),
            ));
        }
    }

    let host = if location == "global" {
        "https://aiplatform.googleapis.com".to_string()
    } else {
        format!("https://{location}-aiplatform.googleapis.com")
    };
    let (origin, origin_path) = match api_base {
        Some((raw, path)) => {
            check_env_name(file, &path, &raw)?;
            let resolved = resolve_string(file, &path, &raw, lookup)?;
            (resolved.trim().trim_end_matches('/').to_string(), path)
        }
        None => (host, format!("{lpp}.vertex_location")),
    };
    let api_base = format!("{origin}/v1/projects/{project}/locations/{location}");
    let address = parse_api_base(&api_base).map_err(|m| ConfigError::at(file, origin_path, m))?;

    let token_address = parse_api_base(token_base(&account.token_uri)).map_err(|m| {
        ConfigError::at(
            file,
            format!("{lpp}.vertex_credentials"),
            format!("the service account's token_uri: {m}"),
        )
    })?;
    Ok(VertexPlan {
        api_base: Setting::Literal(api_base),
        address,
        google_auth: GoogleAuthConfig {
            credentials,
            token_cluster: token_cluster_name(&token_address),
        },
        token_address,
        warnings,
        env_keys,
    })
}

/// The scheme and authority of a URL (the token cluster's address).
fn token_base(uri: &str) -> &str {
    let after_scheme = uri.find("://").map_or(0, |i| i + 3);
    match uri.get(after_scheme..).and_then(|rest| rest.find('/')) {
        Some(i) => uri.get(..after_scheme + i).unwrap_or(uri),
        None => uri,
    }
}

/// The key JSON, and the setting the filter gets.
fn credentials(
    file: &str,
    lpp: &str,
    lp: &LitellmParams,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<(String, String)>,
    env_keys: &mut Vec<String>,
) -> Result<(Setting, ServiceAccount), ConfigError> {
    let path = format!("{lpp}.vertex_credentials");
    let copied = |warnings: &mut Vec<(String, String)>, from: &str| {
        warnings.push((
            path.clone(),
            format!("the service account key ({from}) is copied into the rendered Envoy config; prefer os.environ/NAME with a variable holding the key file's JSON"),
        ));
    };
    let check = |text: &str, from: &str| {
        ServiceAccount::from_json(text)
            .and_then(|account| check_rsa_private_key(&account.private_key).map(|()| account))
            .map_err(|e| ConfigError::at(file, &path, format!("{from}: {e}")))
    };
    // An environment variable: JSON stays there (read by the filter); a path is read.
    let from_env = |name: &str,
                    value: String,
                    warnings: &mut Vec<(String, String)>,
                    env_keys: &mut Vec<String>|
     -> Result<(Setting, ServiceAccount), ConfigError> {
        if value.trim_start().starts_with('{') {
            let account = check(&value, &format!("the JSON in {name}"))?;
            env_keys.push(name.to_string());
            Ok((
                Setting::Env {
                    env: name.to_string(),
                },
                account,
            ))
        } else {
            let text = read_key_file(file, &path, value.trim(), &format!(" (from {name})"))?;
            let account = check(&text, &format!("the key file {value}"))?;
            copied(warnings, &format!("the file named by {name}"));
            Ok((Setting::Literal(text), account))
        }
    };
    match &lp.vertex_credentials {
        Some(Value::String(s)) => match env_ref(s) {
            Some(name) => {
                check_env_name(file, &path, s)?;
                let value = lookup(name).filter(|v| !v.is_empty()).ok_or_else(|| {
                    ConfigError::at(
                        file,
                        &path,
                        format!("environment variable {name} is not set (os.environ/{name})"),
                    )
                })?;
                from_env(name, value, warnings, env_keys)
            }
            None if s.trim_start().starts_with('{') => {
                let account = check(s, "the JSON given")?;
                copied(warnings, "written in the config");
                Ok((Setting::Literal(s.clone()), account))
            }
            None => {
                let text = read_key_file(file, &path, s.trim(), "")?;
                let account = check(&text, &format!("the key file {s}"))?;
                copied(warnings, &format!("the file {s}"));
                Ok((Setting::Literal(text), account))
            }
        },
        Some(Value::Mapping(_)) => {
            let json =
                serde_json::to_string(lp.vertex_credentials.as_ref().unwrap_or(&Value::Null))
                    .map_err(|e| {
                        ConfigError::at(file, &path, format!("cannot be read as JSON: {e}"))
                    })?;
            let account = check(&json, "the mapping given")?;
            copied(warnings, "written in the config");
            Ok((Setting::Literal(json), account))
        }
        Some(_) => Err(ConfigError::at(
            file,
            &path,
            "expected a key file path, the key file's JSON, or os.environ/NAME",
        )),
        None => {
            if let Some(value) = lookup("VERTEXAI_CREDENTIALS").filter(|v| !v.is_empty()) {
                return from_env("VERTEXAI_CREDENTIALS", value, warnings, env_keys);
            }
            if let Some(file_path) =
                lookup("GOOGLE_APPLICATION_CREDENTIALS").filter(|v| !v.is_empty())
            {
                let text = read_key_file(
                    file,
                    &path,
                    &file_path,
                    " (from GOOGLE_APPLICATION_CREDENTIALS)",
                )?;
                let account = check(&text, &format!("the key file {file_path}"))?;
                copied(warnings, "the file named by GOOGLE_APPLICATION_CREDENTIALS");
                return Ok((Setting::Literal(text), account));
            }
            Err(ConfigError::at(
                file,
                &path,
                "vertex_ai deployments need a service account key: set vertex_credentials (a key file path, its JSON, or os.environ/NAME), VERTEXAI_CREDENTIALS, or GOOGLE_APPLICATION_CREDENTIALS (Switchyard signs its own token requests, so gcloud user logins and metadata servers are not used)",
            ))
        }
    }
}

/// Refuses a `private_key` the filter could not sign with: the PEM body must decode to
/// an RSA private key, PKCS#8 (`PRIVATE KEY`, what Google's key files hold) or PKCS#1
/// (`RSA PRIVATE KEY`). The contract crate checks the fields and the PEM framing
/// ([`ServiceAccount::from_json`]); the key itself needs `rsa`, which only the filter
/// and this crate link. The messages are the filter's (`google_auth::ServiceAccount`).
fn check_rsa_private_key(pem: &str) -> Result<(), String> {
    let mut label = None;
    let mut body = String::new();
    for line in pem.lines().map(str::trim) {
        if let Some(l) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            label = Some(l);
        } else if line.starts_with("-----END ") {
            break;
        } else if label.is_some() {
            body.push_str(line);
        }
    }
    let label = label.ok_or("private_key is not a PEM block")?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("private_key is not valid PEM base64: {e}"))?;
    match label {
        "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(&der)
            .map(drop)
            .map_err(|e| format!("private_key is not an RSA PKCS#8 key: {e}")),
        "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_der(&der)
            .map(drop)
            .map_err(|e| format!("private_key is not an RSA PKCS#1 key: {e}")),
        other => Err(format!(
            "private_key is a {other:?} PEM block, not a private key"
        )),
    }
}

fn read_key_file(
    file: &str,
    path: &str,
    key_file: &str,
    from: &str,
) -> Result<String, ConfigError> {
    std::fs::read_to_string(key_file).map_err(|e| {
        ConfigError::at(
            file,
            path,
            format!("cannot read the service account key file {key_file:?}{from}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::litellm::parse_str;
    use crate::plan::{compile, Plan};
    use switchyard_contract::providers::ProviderKind;

    const KEY: &str = include_str!("../../../filter/src/testdata/google_test_key.pem");

    /// An EC (P-256) private key in PKCS#8 PEM: well framed, not RSA.
    const EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgX1FEgWWvKbzbKM+E
RaViyRa+q64jfmpgdijMgU/N2DihRANCAARWEBlF4WHejT5vcqRuTOv2SP0BAV1q
wQ39epLBkg89hsKpc0tmWjlfCQtC8B4lb8B7n2wO/g4fDgLMfP4K9bAW
-----END PRIVATE KEY-----
";

    fn key_json(project: Option<&str>) -> String {
        let mut v = serde_json::json!({
            "type": "service_account",
            "private_key_id": "k1",
            "private_key": KEY,
            "client_email": "gw@p.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        if let Some(p) = project {
            v["project_id"] = serde_json::json!(p);
        }
        v.to_string()
    }

    fn compile_with(text: &str, vars: Vec<(&'static str, String)>) -> Result<Plan, ConfigError> {
        let env = move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        };
        let (config, _) = parse_str(text, "config.yaml", &env)?;
        compile(&config, &env)
    }

    fn entry(params: &str) -> String {
        format!("model_list:\n  - model_name: v\n    litellm_params:\n      model: vertex_ai/gemini-2.5-flash\n{params}")
    }

    #[test]
    fn project_location_and_a_key_from_the_environment() {
        let plan = compile_with(
            &entry("      vertex_project: proj-1\n      vertex_location: us-east5\n      vertex_credentials: os.environ/SA_JSON\n"),
            vec![("SA_JSON", key_json(None))],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::VertexAi);
        assert_eq!(d.upstream.model, "gemini-2.5-flash");
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal(
                "https://us-east5-aiplatform.googleapis.com/v1/projects/proj-1/locations/us-east5"
                    .into()
            )
        );
        assert_eq!(d.upstream.api_key, None);
        assert_eq!(
            (
                d.address.host.as_str(),
                d.address.tls,
                d.address.path_prefix.as_str()
            ),
            (
                "us-east5-aiplatform.googleapis.com",
                true,
                "/v1/projects/proj-1/locations/us-east5"
            )
        );
        let auth = d.upstream.google_auth.as_ref().unwrap();
        assert_eq!(
            auth.credentials,
            Setting::Env {
                env: "SA_JSON".into()
            }
        );
        assert_eq!(auth.token_cluster, "google_token_oauth2_googleapis_com_443");
        let token = &plan.token_clusters["google_token_oauth2_googleapis_com_443"];
        assert_eq!(
            (token.host.as_str(), token.port, token.tls),
            ("oauth2.googleapis.com", 443, true)
        );
        assert!(plan.host_env_keys.contains("SA_JSON"));
        assert!(
            !plan.warnings.iter().any(|w| w.contains("vertex")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn defaults_from_the_key_file_and_litellms_variables() {
        let dir = std::env::temp_dir().join(format!("switchyard-vertex-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sa.json");
        std::fs::write(&file, key_json(Some("from-key"))).unwrap();
        let path = file.to_string_lossy().to_string();
        // GOOGLE_APPLICATION_CREDENTIALS names the file; the project is the key's.
        let plan = compile_with(
            &entry(""),
            vec![("GOOGLE_APPLICATION_CREDENTIALS", path.clone())],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://us-central1-aiplatform.googleapis.com/v1/projects/from-key/locations/us-central1".into())
        );
        let auth = d.upstream.google_auth.as_ref().unwrap();
        assert!(matches!(&auth.credentials, Setting::Literal(j) if j.contains("from-key")));
        assert!(
            plan.warnings.iter().any(|w| w.contains("vertex_credentials") && w.contains("copied into the rendered")),
            "{:?}",
            plan.warnings
        );
        // VERTEXAI_PROJECT / VERTEXAI_LOCATION; `global` has no region in the host.
        let plan = compile_with(
            &entry(&format!("      vertex_credentials: {path}\n")),
            vec![
                ("VERTEXAI_PROJECT", "env-proj".into()),
                ("VERTEXAI_LOCATION", "global".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            plan.deployments[0].upstream.api_base,
            Setting::Literal(
                "https://aiplatform.googleapis.com/v1/projects/env-proj/locations/global".into()
            )
        );
        // An api_base replaces the origin (a proxy, a test server).
        let plan = compile_with(
            &entry(&format!(
                "      vertex_credentials: {path}\n      api_base: http://127.0.0.1:9000/\n"
            )),
            vec![],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal(
                "http://127.0.0.1:9000/v1/projects/from-key/locations/us-central1".into()
            )
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.port, d.address.tls),
            ("127.0.0.1", 9000, false)
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn missing_or_bad_credentials_and_partner_models() {
        let e = compile_with(&entry("      vertex_project: p\n"), vec![])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("model_list[0].litellm_params.vertex_credentials")
                && e.contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{e}"
        );
        let e = compile_with(
            &entry("      vertex_project: p\n      vertex_credentials: os.environ/SA_JSON\n"),
            vec![("SA_JSON", "{\"type\": \"authorized_user\"}".into())],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("vertex_credentials") && e.contains("authorized_user"),
            "{e}"
        );
        let e = compile_with(
            &entry("      vertex_credentials: /nonexistent/sa.json\n"),
            vec![],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("cannot read the service account key file"),
            "{e}"
        );
        // A PEM-framed key that is not RSA (an EC P-256 key), or not even base64.
        for (private_key, expected) in [
            (EC_KEY, "private_key is not an RSA PKCS#8 key"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nnot*base64\n-----END RSA PRIVATE KEY-----\n",
                "private_key is not valid PEM base64",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "private_key is not an RSA PKCS#1 key",
            ),
        ] {
            let mut sa: serde_json::Value = serde_json::from_str(&key_json(Some("p"))).unwrap();
            sa["private_key"] = private_key.into();
            let e = compile_with(
                &entry("      vertex_credentials: os.environ/SA_JSON\n"),
                vec![("SA_JSON", sa.to_string())],
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.starts_with("config.yaml: model_list[0].litellm_params.vertex_credentials: the JSON in SA_JSON: ")
                    && e.contains(expected),
                "{e}"
            );
        }
        // No project anywhere.
        let e = compile_with(
            &entry("      vertex_credentials: os.environ/SA_JSON\n"),
            vec![("SA_JSON", key_json(None))],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("vertex_project") && e.contains("VERTEXAI_PROJECT"),
            "{e}"
        );
        let e = compile_with(
            &entry("      vertex_project: \"a/b\"\n      vertex_credentials: os.environ/SA_JSON\n"),
            vec![("SA_JSON", key_json(None))],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a valid Google Cloud project"), "{e}");
        // Partner models other than Claude are skipped with a warning.
        let text = "model_list:\n  - model_name: llama\n    litellm_params:\n      model: vertex_ai/meta/llama-3.1-405b-instruct-maas\n      vertex_project: p\n";
        let plan = compile_with(text, vec![]).unwrap();
        assert!(plan.deployments.is_empty());
        assert!(
            plan.warnings.iter().any(|w| w.contains("partner models")),
            "{:?}",
            plan.warnings
        );
    }
}
