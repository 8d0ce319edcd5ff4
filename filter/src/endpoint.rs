//! Which gateway endpoint a request is for.
//!
//! LiteLLM serves every route with and without the `/v1` prefix, and also the Azure
//! style `/openai/deployments/{model}/…` paths that Azure OpenAI clients use, and
//! Anthropic's `/v1/messages` (and `/v1/messages/count_tokens`) for Anthropic-format
//! clients. This module maps a method and path to one [`Route`], ignoring any query
//! string.

/// An LLM call the gateway translates and forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /chat/completions`
    ChatCompletions,
    /// `POST /completions` (legacy text completions)
    Completions,
    /// `POST /embeddings`
    Embeddings,
}

impl Endpoint {
    /// The OpenAI path suffix, without a leading slash (`chat/completions`).
    pub fn openai_path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat/completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        }
    }

    /// The short name carried between the filter's stages in a header.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        }
    }

    /// Inverse of [`Endpoint::as_str`].
    pub fn parse(name: &str) -> Option<Endpoint> {
        match name {
            "chat_completions" => Some(Endpoint::ChatCompletions),
            "completions" => Some(Endpoint::Completions),
            "embeddings" => Some(Endpoint::Embeddings),
            _ => None,
        }
    }

    fn from_suffix(suffix: &str) -> Option<Endpoint> {
        match suffix {
            "chat/completions" => Some(Endpoint::ChatCompletions),
            "completions" => Some(Endpoint::Completions),
            "embeddings" => Some(Endpoint::Embeddings),
            _ => None,
        }
    }
}

/// The wire format the client speaks, independent of the [`Endpoint`] the providers
/// are asked for.
///
/// An Anthropic-format request (`POST /v1/messages`) is a chat completion as far as
/// every provider translation is concerned: the upstream stage turns it into an
/// OpenAI chat request ([`crate::client::anthropic`]) and the answer back, so providers only
/// ever see the three OpenAI endpoints. Anthropic deployments get it natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ClientApi {
    /// OpenAI's format (every endpoint but the Anthropic ones).
    #[default]
    OpenAi,
    /// Anthropic Messages: `POST /v1/messages` (endpoint: chat completions).
    Messages,
    /// Anthropic token counting: `POST /v1/messages/count_tokens`.
    CountTokens,
}

impl ClientApi {
    /// Whether errors and answers take Anthropic's shape.
    pub fn is_anthropic(self) -> bool {
        self != ClientApi::OpenAi
    }

    /// The path suffix after `/v1/`, as the client called it (used to replay a
    /// request on an error fallback).
    pub fn path(self, endpoint: Endpoint) -> &'static str {
        match self {
            ClientApi::OpenAi => endpoint.openai_path(),
            ClientApi::Messages => "messages",
            ClientApi::CountTokens => "messages/count_tokens",
        }
    }
}

/// What the router stage does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    /// An LLM call; `path_model` is the model named in an Azure-style path, `api`
    /// the format the client speaks.
    Llm {
        /// The kind of call (chat completions, embeddings, …).
        endpoint: Endpoint,
        /// The model named in an Azure-style path (`/openai/deployments/<model>/…`).
        path_model: Option<&'a str>,
        /// The API format the client speaks (OpenAI's or Anthropic's).
        api: ClientApi,
    },
    /// `GET /models`, `/v1/models`
    Models,
    /// `GET /health/liveliness` (and `/health/liveness`)
    Liveliness,
    /// `GET /health/readiness`
    Readiness,
    /// `GET /metrics` (LiteLLM's Prometheus endpoint; not under `/v1`).
    Metrics,
    /// `GET /health`: probes every deployment (proxy admin only).
    Health,
    /// `GET /model/info` (and `/v1/model/info`): every deployment, secrets removed.
    ModelInfo,
    /// `GET /model_group/info`: every model group.
    ModelGroupInfo,
    /// LiteLLM's key-management API (`/key/…`, `/user/…`, `/team/…`, `/spend/…`,
    /// `/global/…`), served by the keyservice.
    Admin,
    /// A known path with the wrong method.
    MethodNotAllowed {
        /// The one method the path takes (`POST`, `GET`).
        allowed: &'static str,
    },
    /// Not a path the gateway serves.
    NotFound,
}

/// Classifies a request by method and `:path`.
pub fn classify<'a>(method: &str, path: &'a str) -> Route<'a> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let path = path.trim_end_matches('/');
    let unprefixed = path.strip_prefix("/v1").unwrap_or(path);

    if path == "/metrics" {
        return only(method, "GET", Route::Metrics);
    }
    match unprefixed {
        "/models" => return only(method, "GET", Route::Models),
        "/health/liveliness" | "/health/liveness" => return only(method, "GET", Route::Liveliness),
        "/health/readiness" => return only(method, "GET", Route::Readiness),
        "/health" => return only(method, "GET", Route::Health),
        "/model/info" => return only(method, "GET", Route::ModelInfo),
        "/model_group/info" => return only(method, "GET", Route::ModelGroupInfo),
        _ => {}
    }

    if let Some(endpoint) = unprefixed.strip_prefix('/').and_then(Endpoint::from_suffix) {
        return only(
            method,
            "POST",
            Route::Llm {
                endpoint,
                path_model: None,
                api: ClientApi::OpenAi,
            },
        );
    }
    let anthropic = match unprefixed {
        "/messages" => Some(ClientApi::Messages),
        "/messages/count_tokens" => Some(ClientApi::CountTokens),
        _ => None,
    };
    if let Some(api) = anthropic {
        return only(
            method,
            "POST",
            Route::Llm {
                endpoint: Endpoint::ChatCompletions,
                path_model: None,
                api,
            },
        );
    }

    // Azure OpenAI clients: /openai/deployments/{model}/chat/completions
    if let Some(rest) = path.strip_prefix("/openai/deployments/") {
        if let Some((model, suffix)) = rest.split_once('/') {
            if let Some(endpoint) = Endpoint::from_suffix(suffix) {
                if !model.is_empty() {
                    return only(
                        method,
                        "POST",
                        Route::Llm {
                            endpoint,
                            path_model: Some(model),
                            api: ClientApi::OpenAi,
                        },
                    );
                }
            }
        }
    }
    const ADMIN_PREFIXES: [&str; 5] = ["/key/", "/user/", "/team/", "/spend/", "/global/"];
    if ADMIN_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return Route::Admin;
    }
    Route::NotFound
}

fn only<'a>(method: &str, allowed: &'static str, route: Route<'a>) -> Route<'a> {
    if method.eq_ignore_ascii_case(allowed) {
        route
    } else {
        Route::MethodNotAllowed { allowed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_prefix() {
        for p in [
            "/chat/completions",
            "/v1/chat/completions",
            "/v1/chat/completions?x=1",
        ] {
            assert_eq!(
                classify("POST", p),
                Route::Llm {
                    endpoint: Endpoint::ChatCompletions,
                    path_model: None,
                    api: ClientApi::OpenAi
                },
                "{p}"
            );
        }
        assert_eq!(
            classify("POST", "/v1/embeddings"),
            Route::Llm {
                endpoint: Endpoint::Embeddings,
                path_model: None,
                api: ClientApi::OpenAi
            }
        );
        assert_eq!(
            classify("POST", "/completions"),
            Route::Llm {
                endpoint: Endpoint::Completions,
                path_model: None,
                api: ClientApi::OpenAi
            }
        );
        assert_eq!(classify("GET", "/models"), Route::Models);
        assert_eq!(classify("GET", "/v1/models"), Route::Models);
    }

    #[test]
    fn health_and_info_paths() {
        assert_eq!(classify("GET", "/health"), Route::Health);
        assert_eq!(classify("GET", "/health?model=a"), Route::Health);
        assert_eq!(classify("GET", "/health/liveliness"), Route::Liveliness);
        assert_eq!(classify("GET", "/model/info"), Route::ModelInfo);
        assert_eq!(classify("GET", "/v1/model/info"), Route::ModelInfo);
        assert_eq!(classify("GET", "/model_group/info"), Route::ModelGroupInfo);
        assert_eq!(
            classify("POST", "/health"),
            Route::MethodNotAllowed { allowed: "GET" }
        );
    }

    #[test]
    fn azure_style_paths() {
        assert_eq!(
            classify(
                "POST",
                "/openai/deployments/gpt-4o/chat/completions?api-version=2024-06-01"
            ),
            Route::Llm {
                endpoint: Endpoint::ChatCompletions,
                path_model: Some("gpt-4o"),
                api: ClientApi::OpenAi
            }
        );
        assert_eq!(
            classify("POST", "/openai/deployments//chat/completions"),
            Route::NotFound
        );
    }

    #[test]
    fn health_and_methods() {
        assert_eq!(classify("GET", "/health/liveliness"), Route::Liveliness);
        assert_eq!(classify("GET", "/health/liveness"), Route::Liveliness);
        assert_eq!(classify("GET", "/health/readiness"), Route::Readiness);
        assert_eq!(
            classify("GET", "/v1/chat/completions"),
            Route::MethodNotAllowed { allowed: "POST" }
        );
        assert_eq!(classify("POST", "/v1/nothing"), Route::NotFound);
        assert_eq!(classify("POST", "/key/generate"), Route::Admin);
        assert_eq!(classify("GET", "/spend/logs?api_key=x"), Route::Admin);
        assert_eq!(classify("GET", "/keys"), Route::NotFound);
    }

    #[test]
    fn anthropic_messages_paths() {
        for (path, api) in [
            ("/v1/messages", ClientApi::Messages),
            ("/messages", ClientApi::Messages),
            ("/v1/messages?beta=true", ClientApi::Messages),
            ("/v1/messages/count_tokens", ClientApi::CountTokens),
            (
                "/v1/messages/count_tokens?beta=true",
                ClientApi::CountTokens,
            ),
        ] {
            assert_eq!(
                classify("POST", path),
                Route::Llm {
                    endpoint: Endpoint::ChatCompletions,
                    path_model: None,
                    api
                },
                "{path}"
            );
        }
        assert_eq!(
            classify("GET", "/v1/messages"),
            Route::MethodNotAllowed { allowed: "POST" }
        );
        assert_eq!(classify("POST", "/v1/messages/batches"), Route::NotFound);
        assert_eq!(
            ClientApi::CountTokens.path(Endpoint::ChatCompletions),
            "messages/count_tokens"
        );
        assert_eq!(ClientApi::OpenAi.path(Endpoint::Embeddings), "embeddings");
        assert!(ClientApi::Messages.is_anthropic() && !ClientApi::OpenAi.is_anthropic());
    }

    #[test]
    fn names_round_trip() {
        for e in [
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
        ] {
            assert_eq!(Endpoint::parse(e.as_str()), Some(e));
        }
    }
}
