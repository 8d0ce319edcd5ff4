//! Bedrock deployments (`bedrock/…`): the model id without LiteLLM's route prefixes,
//! the region, the runtime endpoint, and the credentials (a Bedrock API key sent as
//! `Authorization: Bearer`, else SigV4 with AWS keys), as LiteLLM finds them.

use switchyard_contract::plugin_config::{AwsSigning, Setting};

use super::upstream_address::UpstreamAddress;
use super::{parse_api_base, Compiler};
use crate::litellm::{env_ref, resolve_string, ConfigError, LitellmParams};

/// The region of a Bedrock deployment that names none anywhere (LiteLLM's default).
pub const BEDROCK_REGION: &str = "us-west-2";

/// A Bedrock API key (`Authorization: Bearer`), read when a deployment has no `api_key`.
pub const BEDROCK_BEARER_ENV: &str = "AWS_BEARER_TOKEN_BEDROCK";

/// A Bedrock endpoint for deployments without `api_base` or
/// `aws_bedrock_runtime_endpoint` (LiteLLM's `get_runtime_endpoint`).
pub const BEDROCK_ENDPOINT_ENV: &str = "AWS_BEDROCK_RUNTIME_ENDPOINT";

impl Compiler<'_> {
    /// A Bedrock model id without LiteLLM's route prefixes: `converse/<id>` is the
    /// Converse API (what Switchyard speaks); `invoke/<id>` (InvokeModel with the
    /// model's native body) is served through Converse too, with a warning.
    pub(super) fn bedrock_model_id(&mut self, p: &str, model_id: String) -> String {
        if let Some(id) = model_id.strip_prefix("converse/") {
            return id.to_string();
        }
        if let Some(id) = model_id.strip_prefix("invoke/") {
            self.warn(
                format!("{p}.litellm_params.model"),
                "bedrock/invoke/ (InvokeModel with the model's own body) is served through the Converse API, as bedrock/converse/",
            );
            return id.to_string();
        }
        model_id
    }

    /// The region of a Bedrock deployment, as LiteLLM finds it: `aws_region_name`,
    /// the model ARN's region, `AWS_REGION_NAME`, `AWS_REGION`, `AWS_DEFAULT_REGION`
    /// (boto3's), else `us-west-2`. Resolved now: the default endpoint names it.
    pub(super) fn bedrock_region(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        model_id: &str,
    ) -> Result<String, ConfigError> {
        let path = format!("{p}.litellm_params.aws_region_name");
        let region = match &lp.aws_region_name {
            Some(raw) => resolve_string(self.file, &path, raw, self.lookup)?,
            None => {
                let from_arn = model_id
                    .strip_prefix("arn:")
                    .and_then(|arn| arn.split(':').nth(2))
                    .filter(|r| !r.is_empty())
                    .map(str::to_string);
                let from_env = || {
                    ["AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"]
                        .iter()
                        .find_map(|var| (self.lookup)(var).filter(|v| !v.is_empty()))
                };
                from_arn
                    .or_else(from_env)
                    .unwrap_or_else(|| BEDROCK_REGION.to_string())
            }
        };
        let region = region.trim().to_string();
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(self.error(
                path,
                format!("{region:?} is not an AWS region name (e.g. us-east-1)"),
            ));
        }
        Ok(region)
    }

    /// The endpoint of a Bedrock deployment without an `api_base`:
    /// `aws_bedrock_runtime_endpoint`, else `AWS_BEDROCK_RUNTIME_ENDPOINT`, else
    /// `https://bedrock-runtime.{region}.amazonaws.com` (LiteLLM's
    /// `BaseAWSLLM.get_runtime_endpoint`).
    pub(super) fn bedrock_base(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        region: &str,
    ) -> Result<(Setting, UpstreamAddress), ConfigError> {
        if let Some(raw) = &lp.aws_bedrock_runtime_endpoint {
            let path = format!("{p}.litellm_params.aws_bedrock_runtime_endpoint");
            let resolved = resolve_string(self.file, &path, raw, self.lookup)?;
            let address = parse_api_base(&resolved).map_err(|m| self.error(path.clone(), m))?;
            let setting = match env_ref(raw) {
                Some(name) => {
                    self.host_env_keys.insert(name.to_string());
                    Setting::Env {
                        env: name.to_string(),
                    }
                }
                None => Setting::Literal(raw.trim().trim_end_matches('/').to_string()),
            };
            return Ok((setting, address));
        }
        if let Some(value) = (self.lookup)(BEDROCK_ENDPOINT_ENV).filter(|v| !v.is_empty()) {
            let address = parse_api_base(&value).map_err(|m| {
                self.error(
                    format!("{p}.litellm_params.aws_bedrock_runtime_endpoint"),
                    format!("{m} (from {BEDROCK_ENDPOINT_ENV})"),
                )
            })?;
            self.host_env_keys.insert(BEDROCK_ENDPOINT_ENV.to_string());
            return Ok((
                Setting::Env {
                    env: BEDROCK_ENDPOINT_ENV.to_string(),
                },
                address,
            ));
        }
        let default = format!("https://bedrock-runtime.{region}.amazonaws.com");
        let address = parse_api_base(&default)
            .map_err(|m| self.error(format!("{p}.litellm_params.aws_region_name"), m))?;
        Ok((Setting::Literal(default), address))
    }

    /// The key of a Bedrock deployment without an `api_key`: as LiteLLM,
    /// `AWS_BEARER_TOKEN_BEDROCK` when set is a Bedrock API key (`Authorization:
    /// Bearer`); without one, the deployment signs with SigV4 ([`Self::bedrock_signing`]).
    pub(super) fn bedrock_bearer_key(&mut self) -> Option<Setting> {
        (self.lookup)(BEDROCK_BEARER_ENV)
            .filter(|v| !v.is_empty())
            .map(|_| {
                self.host_env_keys.insert(BEDROCK_BEARER_ENV.to_string());
                Setting::Env {
                    env: BEDROCK_BEARER_ENV.to_string(),
                }
            })
    }

    /// SigV4 credentials of a Bedrock deployment without a Bedrock API key:
    /// `aws_access_key_id` / `aws_secret_access_key` / `aws_session_token`
    /// (`os.environ/NAME` kept for the filter), else the standard variables
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    pub(super) fn bedrock_signing(
        &mut self,
        p: &str,
        lp: &LitellmParams,
        region: &str,
        model_name: &str,
    ) -> Result<AwsSigning, ConfigError> {
        let lpp = format!("{p}.litellm_params");
        let credential = |this: &mut Self,
                          field: &str,
                          value: &Option<String>,
                          var: &str,
                          secret: bool|
         -> Result<Option<Setting>, ConfigError> {
            if let Some(raw) = value {
                return this
                    .deferred(&format!("{lpp}.{field}"), raw, secret)
                    .map(Some);
            }
            if (this.lookup)(var).is_some_and(|v| !v.is_empty()) {
                this.host_env_keys.insert(var.to_string());
                return Ok(Some(Setting::Env {
                    env: var.to_string(),
                }));
            }
            Ok(None)
        };
        let id = credential(
            self,
            "aws_access_key_id",
            &lp.aws_access_key_id,
            "AWS_ACCESS_KEY_ID",
            false,
        )?;
        let secret = credential(
            self,
            "aws_secret_access_key",
            &lp.aws_secret_access_key,
            "AWS_SECRET_ACCESS_KEY",
            true,
        )?;
        // A session token belongs to its key: the environment's only goes with the
        // environment's key id (boto3 reads them as one set).
        let token = if lp.aws_access_key_id.is_some() {
            match &lp.aws_session_token {
                Some(raw) => Some(self.deferred(&format!("{lpp}.aws_session_token"), raw, true)?),
                None => None,
            }
        } else {
            credential(
                self,
                "aws_session_token",
                &lp.aws_session_token,
                "AWS_SESSION_TOKEN",
                true,
            )?
        };
        match (id, secret) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(AwsSigning {
                region: region.to_string(),
                access_key_id,
                secret_access_key,
                session_token: token,
            }),
            (id, _) => {
                let (field, missing) = if id.is_none() {
                    ("aws_access_key_id", "AWS_ACCESS_KEY_ID")
                } else {
                    ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY")
                };
                Err(self.error(
                    format!("{p}.litellm_params.{field}"),
                    format!(
                        "bedrock deployments need AWS credentials: set aws_access_key_id and aws_secret_access_key (e.g. os.environ/AWS_ACCESS_KEY_ID), or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ({missing} is missing), or a Bedrock API key (api_key, or {BEDROCK_BEARER_ENV}); AWS profiles, instance roles and aws_role_name are not supported; model_name {model_name:?}"
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::*;

    #[test]
    fn bedrock_signs_with_aws_credentials() {
        let plan = compile_env(
            &one("      model: bedrock/converse/us.anthropic.claude-3-5-haiku-20241022-v1:0\n      aws_access_key_id: os.environ/MY_AKID\n      aws_secret_access_key: os.environ/MY_SECRET\n      aws_session_token: os.environ/MY_TOKEN\n      aws_region_name: eu-west-1\n"),
            &[("MY_AKID", "AKID"), ("MY_SECRET", "s"), ("MY_TOKEN", "t")],
        )
        .unwrap();
        let d = &plan.deployments[0];
        assert_eq!(d.upstream.provider, ProviderKind::Bedrock);
        assert_eq!(
            d.upstream.model,
            "us.anthropic.claude-3-5-haiku-20241022-v1:0"
        );
        assert_eq!(d.upstream.api_key, None);
        assert_eq!(
            d.upstream.api_base,
            Setting::Literal("https://bedrock-runtime.eu-west-1.amazonaws.com".into())
        );
        assert_eq!(
            (d.address.host.as_str(), d.address.port, d.address.tls),
            ("bedrock-runtime.eu-west-1.amazonaws.com", 443, true)
        );
        let env = |n: &str| Setting::Env { env: n.into() };
        assert_eq!(
            d.upstream.aws,
            Some(AwsSigning {
                region: "eu-west-1".into(),
                access_key_id: env("MY_AKID"),
                secret_access_key: env("MY_SECRET"),
                session_token: Some(env("MY_TOKEN")),
            })
        );
        for var in ["MY_AKID", "MY_SECRET", "MY_TOKEN"] {
            assert!(plan.host_env_keys.contains(var), "{var}");
        }
        assert!(
            !plan.warnings.iter().any(|w| w.contains("aws_")),
            "{:?}",
            plan.warnings
        );

        // Standard variables; region from AWS_REGION; endpoint override.
        let plan = compile_env(
            &one("      model: bedrock/anthropic.claude-instant-v1\n      aws_access_key_id: os.environ/MY_AKID\n      aws_secret_access_key: os.environ/MY_SECRET\n"),
            &[("MY_AKID", "AKID"), ("MY_SECRET", "s"), ("AWS_SESSION_TOKEN", "not-mine")],
        )
        .unwrap();
        assert_eq!(
            plan.deployments[0]
                .upstream
                .aws
                .as_ref()
                .unwrap()
                .session_token,
            None,
            "the environment's session token goes with the environment's key only"
        );
        let plan = compile_env(
            &one("      model: bedrock/amazon.titan-embed-text-v2:0\n      aws_bedrock_runtime_endpoint: http://127.0.0.1:9999\n"),
            &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S"), ("AWS_REGION", "ap-south-1")],
        )
        .unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(
            up.api_base,
            Setting::Literal("http://127.0.0.1:9999".into())
        );
        let aws = up.aws.as_ref().unwrap();
        assert_eq!(aws.region, "ap-south-1");
        assert_eq!(aws.access_key_id, env("AWS_ACCESS_KEY_ID"));
        assert_eq!(aws.session_token, None);

        // An ARN's region wins over the environment's; LiteLLM's default else.
        let plan = compile_env(
            &one("      model: bedrock/arn:aws:bedrock:ca-central-1:123456789012:inference-profile/ca.anthropic.claude-x\n"),
            &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S"), ("AWS_REGION", "ap-south-1")],
        )
        .unwrap();
        assert_eq!(
            plan.deployments[0].upstream.aws.as_ref().unwrap().region,
            "ca-central-1"
        );
        let plan = compile_env(
            &one("      model: bedrock/anthropic.claude-instant-v1\n"),
            &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")],
        )
        .unwrap();
        assert_eq!(
            plan.deployments[0].upstream.aws.as_ref().unwrap().region,
            "us-west-2"
        );
    }

    #[test]
    fn bedrock_api_keys_are_bearer_tokens() {
        let plan = compile_env(
            &one("      model: bedrock/anthropic.claude-instant-v1\n      aws_region_name: us-east-1\n"),
            &[("AWS_BEARER_TOKEN_BEDROCK", "ABSK"), ("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")],
        )
        .unwrap();
        let up = &plan.deployments[0].upstream;
        assert_eq!(
            up.api_key,
            Some(Setting::Env {
                env: "AWS_BEARER_TOKEN_BEDROCK".into()
            })
        );
        assert_eq!(
            up.aws, None,
            "a Bedrock API key wins over SigV4, as in LiteLLM"
        );
        let plan = compile_text(&one(
            "      model: bedrock/anthropic.claude-instant-v1\n      api_key: os.environ/BR_KEY\n",
        ))
        .unwrap();
        assert_eq!(plan.deployments[0].upstream.aws, None);
    }

    #[test]
    fn bedrock_without_credentials_is_refused() {
        let err = compile_text(&one("      model: bedrock/anthropic.claude-instant-v1\n"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config.yaml: model_list[0].litellm_params.aws_access_key_id: bedrock deployments need AWS credentials"), "{err}");
        assert!(
            err.contains("AWS_BEARER_TOKEN_BEDROCK") && err.contains("model_name \"g\""),
            "{err}"
        );
        let err = compile_env(
            &one("      model: bedrock/anthropic.claude-instant-v1\n      aws_region_name: Not A Region\n"),
            &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("litellm_params.aws_region_name"), "{err}");
    }
}
