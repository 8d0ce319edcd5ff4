//! A deployment of a route cluster, prepared at configure time: its base and
//! credentials, its provider (`providers::registry`), parameter table and defaults,
//! and how it prepares a parsed request.

use super::*;

/// One deployment, prepared at configure time.
#[derive(Debug)]
pub struct Deployment {
    pub(super) deployment_id: String,
    pub(super) group: String,
    /// The provider's implementation (`providers::registry`).
    pub(super) provider: &'static dyn Provider,
    pub(super) model: String,
    pub(super) api_base: String,
    pub(super) authority: String,
    pub(super) path_prefix: String,
    pub(super) api_version: Option<String>,
    /// Every header set on each request: credentials, `anthropic-version`, extras.
    pub(super) request_headers: Vec<(String, String)>,
    pub(super) default_params: Map<String, Value>,
    pub(super) drop_params: bool,
    /// The parameters the provider takes per endpoint (chat, completions,
    /// embeddings); resolved at configure time.
    pub(super) params: [providers::ParamTable; 3],
    /// Rewrites an OpenAI-compatible cloud needs (`providers::openai_compat`).
    pub(super) quirks: Quirks,
    pub(super) fallback_index: u32,
    pub(super) pricing: Option<Pricing>,
    /// Prices by served model, for a deployment whose own `pricing` is unknown
    /// (wildcards, unpriced Azure deployments).
    pub(super) model_prices: std::collections::BTreeMap<String, Pricing>,
    /// The prompt template of a text-generation deployment.
    pub(super) prompt_template: Option<crate::plugin_config::PromptTemplate>,
    /// Bedrock deployments that sign with SigV4: credentials and region.
    pub(super) sigv4: Option<providers::bedrock::SigV4>,
    /// Vertex AI: the service account whose access token the requests carry.
    pub(super) google_auth: Option<std::sync::Arc<GoogleAuth>>,
    /// The cluster that reaches this deployment alone (`fanout`).
    pub(super) direct_cluster: Option<String>,
    /// The longest silence of a stream once begun (`timeouts`).
    pub(super) stream_timeout_ms: Option<u64>,
    /// Client billing headers this deployment lets through (`billing_headers`).
    pub(super) forward_client_headers: Vec<String>,
}

/// A Vertex deployment's service account, its shared-data key and the cluster of
/// its token endpoint. Deployments of one account share one.
#[derive(Debug)]
pub struct GoogleAuth {
    /// The account (key, email, token endpoint).
    pub account: ServiceAccount,
    /// Where its [`TokenRecord`] lives in shared data.
    pub key: String,
    /// The Envoy cluster of the `token_uri` host.
    pub cluster: String,
}

/// Where an endpoint's table sits in [`Deployment::params`].
pub(super) fn endpoint_slot(endpoint: Endpoint) -> usize {
    match endpoint {
        Endpoint::ChatCompletions => 0,
        Endpoint::Completions => 1,
        Endpoint::Embeddings => 2,
    }
}

/// Splits `scheme://host[:port][/prefix]` into the `:authority` and the path prefix.
/// Reads the URL as the config compiler does (`switchyard::plan::parse_api_base`):
/// surrounding whitespace ignored, the scheme in any case (RFC 3986).
pub fn split_api_base(api_base: &str) -> Result<(String, String), String> {
    let base = api_base.trim();
    let strip_scheme = |scheme: &str| {
        base.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .and_then(|_| base.get(scheme.len()..))
    };
    let (rest, default_port) = match (strip_scheme("https://"), strip_scheme("http://")) {
        (Some(rest), _) => (rest, ":443"),
        (None, Some(rest)) => (rest, ":80"),
        (None, None) => {
            return Err(format!(
                "api_base {api_base:?} must start with http:// or https://"
            ))
        }
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("api_base {api_base:?} has no host"));
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Ok((
        authority.to_string(),
        path.trim_end_matches('/').to_string(),
    ))
}

impl Deployment {
    /// Resolves settings (reading `{"env": …}` values through `env`) and precomputes
    /// the per-request headers.
    pub fn new(
        config: &DeploymentConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Deployment, String> {
        let at = |field: &str| {
            format!(
                "deployment {} ({}): {field}",
                config.deployment_id, config.group
            )
        };
        let api_base = config.api_base.resolve(&at("api_base"), env)?;
        let (authority, mut path_prefix) =
            split_api_base(&api_base).map_err(|e| format!("{}: {e}", at("api_base")))?;
        let provider = providers::provider(config.provider);
        provider.normalize_base(&mut path_prefix);
        let api_key = match &config.api_key {
            Some(s) => Some(s.resolve(&at("api_key"), env)?),
            None => None,
        };
        let api_version = match &config.api_version {
            Some(s) => Some(s.resolve(&at("api_version"), env)?),
            None => None,
        };
        let google_auth = match &config.google_auth {
            Some(g) => {
                let field = at("google_auth.credentials");
                let text = g.credentials.resolve(&field, env)?;
                let account =
                    ServiceAccount::from_json(&text).map_err(|e| format!("{field}: {e}"))?;
                Some(std::sync::Arc::new(GoogleAuth {
                    key: account.cache_key(),
                    account,
                    cluster: g.token_cluster.clone(),
                }))
            }
            None => None,
        };

        let mut request_headers: Vec<(String, String)> = Vec::new();
        if let Some(key) = api_key {
            request_headers.push(provider.auth_header(key));
        }
        for (name, value) in provider.default_headers() {
            if !config.headers.keys().any(|k| k.eq_ignore_ascii_case(name)) {
                request_headers.push((name.to_string(), value.to_string()));
            }
        }
        for (k, v) in &config.headers {
            request_headers.push((k.to_ascii_lowercase(), v.clone()));
        }
        request_headers.push(("content-type".into(), "application/json".into()));

        let sigv4 = match &config.aws {
            Some(aws) => Some(providers::bedrock::SigV4 {
                credentials: crate::sigv4::Credentials {
                    access_key_id: aws.access_key_id.resolve(&at("aws_access_key_id"), env)?,
                    secret_access_key: aws
                        .secret_access_key
                        .resolve(&at("aws_secret_access_key"), env)?,
                    session_token: match &aws.session_token {
                        Some(t) => Some(t.resolve(&at("aws_session_token"), env)?),
                        None => None,
                    },
                },
                region: aws.region.clone(),
            }),
            None => None,
        };
        let model = provider.model_id(&config.model);
        let params = [
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
        ]
        .map(|e| provider.param_table(e, &model));
        let quirks = provider.quirks(&model);
        Ok(Deployment {
            deployment_id: config.deployment_id.clone(),
            group: config.group.clone(),
            provider,
            model,
            api_base,
            authority,
            path_prefix,
            api_version,
            request_headers,
            default_params: config.default_params.clone(),
            drop_params: config.drop_params,
            params,
            quirks,
            fallback_index: config.fallback_index,
            pricing: config.pricing,
            model_prices: config.model_prices.clone(),
            prompt_template: config.prompt_template.clone(),
            sigv4,
            google_auth,
            direct_cluster: config.direct_cluster.clone(),
            stream_timeout_ms: config.stream_timeout_ms,
            forward_client_headers: config
                .forward_client_headers
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        })
    }

    /// The price of an answer served as `model` (the provider model id sent, or
    /// the one the answer names): the deployment's own, else its table's.
    pub(super) fn price_for(&self, model: &str) -> Option<Pricing> {
        self.pricing
            .or_else(|| cost::price_in(&self.model_prices, model))
    }

    /// The provider model id for a request whose wildcard matched `wildcard`.
    pub(super) fn model_for(&self, wildcard: Option<&str>, requested: Option<&str>) -> String {
        if self.model.contains('*') {
            if let Some(part) = wildcard.or(requested) {
                return self.model.replacen('*', part, 1);
            }
        }
        self.model.clone()
    }

    /// Applies the deployment to a parsed request: model, defaults, parameter checks.
    pub(super) fn prepare(
        &self,
        endpoint: Endpoint,
        request: &mut TopLevel<'_>,
        model: &str,
    ) -> Result<(), GatewayError> {
        request.insert("model", Value::String(model.to_string()));
        // LiteLLM's own fields (routing, caching, spend, mocks, …) never reach a
        // provider (`litellm_fields`).
        litellm_fields::strip(request);
        for (k, v) in &self.default_params {
            if !request.contains_key(k) {
                request.insert(k, v.clone());
            }
        }
        if let Some(table) = self
            .params
            .get(endpoint_slot(endpoint))
            .filter(|t| **t != providers::ParamTable::Any)
        {
            let unsupported: Vec<String> = request
                .keys()
                .filter(|k| table.refuses(k))
                .map(str::to_string)
                .collect();
            if !unsupported.is_empty() {
                if self.drop_params {
                    for k in &unsupported {
                        request.remove(k);
                    }
                } else {
                    let first = unsupported.first().cloned().unwrap_or_default();
                    return Err(GatewayError::bad_request(format!(
                        "{} does not support parameters: {:?}, for model={model}. To drop these, set `drop_params: true` in litellm_settings or the deployment's litellm_params.",
                        self.provider.kind().as_str(),
                        unsupported
                    ))
                    .with_param(first));
                }
            }
        }
        Ok(())
    }
}
