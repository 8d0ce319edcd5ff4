//! The request of one attempt: parsed once, prepared for the picked deployment
//! and translated by its provider; path, body, signature and token set.

use super::*;

impl UpstreamExchange {
    /// Parses the body once, applies the deployment (model, defaults, parameter
    /// checks), has its provider translate it, and sets path, body, signature,
    /// length and token for this attempt.
    pub(super) fn translate_request(
        &mut self,
        dep: &Deployment,
        host: &mut dyn Host,
        facts: &RouteFacts,
        size: usize,
    ) -> Result<(), GatewayError> {
        let body = host.request_body(size).unwrap_or_default();
        // Parsed once, one level deep: OpenAI-compatible bodies go back out with
        // their values' bytes as they came (see `request`).
        let mut request =
            TopLevel::parse(&body).map_err(|e| GatewayError::bad_request(e.to_string()))?;
        if self.key.is_some() {
            // Read before LiteLLM's fields leave the body (spend reports only).
            self.labels = SpendLabels::from_raw(
                request.get_raw("metadata"),
                request.get_raw("litellm_metadata"),
                request.get_raw("tags"),
            );
        }
        self.model = dep.model_for(facts.wildcard.as_deref(), Some(&facts.model));
        // Priced by the model served: a wildcard's is the one asked for.
        self.pricing = dep.price_for(&self.model);
        if self.key.is_some() {
            // What a cut answer is charged for its prompt, when the provider did
            // not say (`estimate`).
            self.prompt_estimate = estimate::prompt_tokens(&body);
        }
        self.native = facts.api.is_anthropic() && dep.provider.speaks_messages_api();
        match facts.api {
            ClientApi::OpenAi => {}
            _ if self.native => return self.native_anthropic(dep, host, facts.api, request, size),
            ClientApi::CountTokens => {
                return Err(anthropic_client::count_tokens_unsupported(
                    dep.provider.kind().as_str(),
                    &facts.model,
                ))
            }
            ClientApi::Messages => {
                // Anthropic → OpenAI, then on as any chat completion.
                let map = request.into_map().map_err(|e| {
                    GatewayError::bad_request(format!("Request body is not valid JSON: {e}"))
                })?;
                let translated = anthropic_client::to_openai_request(&map)?;
                self.stop_sequences = translated.stop_sequences;
                request = TopLevel::from(translated.request);
            }
        }
        dep.prepare(facts.endpoint, &mut request, &self.model)?;
        self.stream = request.get_bool("stream").unwrap_or(false);
        self.include_usage = request
            .get_value("stream_options")
            .and_then(|o| o.get("include_usage").and_then(Value::as_bool))
            .unwrap_or(false);
        // Embeddings asked for as base64 (read for embeddings only).
        let base64 = facts.endpoint == Endpoint::Embeddings
            && request
                .get_value("encoding_format")
                .is_some_and(|f| f.as_str() == Some("base64"));
        self.base64_embeddings = base64 && dep.provider.response_format() == ResponseFormat::Native;
        let attempt = Attempt {
            endpoint: facts.endpoint,
            model: &self.model,
            api_version: dep.api_version.as_deref(),
            drop_params: dep.drop_params,
            prompt_template: dep.prompt_template.as_ref(),
            quirks: dep.quirks,
            stream: self.stream,
            include_usage: self.include_usage,
        };
        let mut translated = dep.provider.translate_request(&attempt, request)?;
        self.rewritten = translated.rewritten;
        if let Some(calls) = translated.fan_out.take() {
            // Titan, a list `input`: this request carries the first input, the
            // others go out as calls of the stage's own (`fanout`).
            self.plan_fanout(dep, host, calls, base64)?;
        }
        let path = format!("{}{}", dep.path_prefix, translated.path);
        if self.original_path.as_deref() != Some(path.as_str()) {
            host.set_request_header(":path", Some(&path));
        }
        let sent: &[u8] = match &translated.body {
            OutgoingBody::Replaced(new) => {
                host.replace_request_body(size, new);
                new
            }
            // An OpenAI-format body the deployment left as it was goes on untouched.
            OutgoingBody::Unchanged => &body,
        };
        if let Some(sigv4) = &dep.sigv4 {
            // Signed per attempt, over the final path and body, at the host's time.
            let signed = sigv4.sign(host.now_unix_secs(), &dep.authority, &path, sent);
            for (name, value) in &signed {
                host.set_request_header(name, Some(value));
            }
        }
        if translated.content_length {
            host.set_request_header("content-length", Some(&sent.len().to_string()));
        }
        if let Some(auth) = &dep.google_auth {
            // One shared-data read: the token every worker shares (google_auth).
            let record = TokenRecord::decode(host.shared_data(&auth.key).as_deref());
            match record.state(host.now_unix_secs()) {
                TokenState::Ready(token) => {
                    host.set_request_header("authorization", Some(&format!("Bearer {token}")));
                }
                TokenState::Wait => self.awaiting_token = Some(auth.key.clone()),
                TokenState::Failed(status, message) => {
                    return Err(GatewayError::new(status, message))
                }
            }
        }
        if self.debug {
            self.log_request(dep, host, sent);
        }
        Ok(())
    }

    /// Debug mode: logs the attempt as LiteLLM's debug output shows a provider call
    /// (final URL, headers and `body`, credentials masked: `debug_log`), and keeps its
    /// target for the status line.
    pub(super) fn log_request(&mut self, dep: &Deployment, host: &dyn Host, body: &[u8]) {
        let mut headers = host.request_headers();
        let method = header_in(&headers, ":method").unwrap_or("POST").to_string();
        let path = header_in(&headers, ":path").unwrap_or("/").to_string();
        let tls = dep
            .api_base
            .trim_start()
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        let scheme = if tls { "https" } else { "http" };
        let url = format!("{scheme}://{}{path}", dep.authority);
        if self.awaiting_token.is_some() {
            // Set once the service account's token is there (google_auth).
            headers.push(("authorization".into(), String::new()));
        }
        let mut secrets: Vec<&str> = Vec::new();
        if let Some(sigv4) = &dep.sigv4 {
            let c = &sigv4.credentials;
            secrets.extend([c.access_key_id.as_str(), c.secret_access_key.as_str()]);
            secrets.extend(c.session_token.as_deref());
        }
        let message = debug_log::request_message(&method, &url, &headers, body, &secrets);
        host.log(Level::Info, &message);
        self.debug_target = Some(format!("{method} {}", debug_log::mask_url(&url)));
    }

    /// Debug mode: logs the provider's status for the attempt (`0`: none came).
    pub(super) fn log_status(&self, dep: &Deployment, host: &dyn Host, status: u16) {
        if let Some(target) = &self.debug_target {
            host.log(
                Level::Info,
                &debug_log::status_message(
                    status,
                    target,
                    &dep.group,
                    &dep.deployment_id,
                    self.attempt,
                ),
            );
        }
    }

    /// An Anthropic-format request for an Anthropic deployment: the body as the
    /// client sent it but for the model id, LiteLLM's gateway fields and the
    /// deployment's defaults that are Messages parameters; credentials and
    /// `anthropic-version` are the deployment's (set with the headers), the client's
    /// `anthropic-beta` goes on.
    pub(super) fn native_anthropic(
        &mut self,
        dep: &Deployment,
        host: &mut dyn Host,
        api: ClientApi,
        mut request: TopLevel<'_>,
        size: usize,
    ) -> Result<(), GatewayError> {
        request.insert("model", Value::String(self.model.clone()));
        // `metadata` is Anthropic's own Messages parameter: its `user_id` goes on, as
        // LiteLLM sends it (count_tokens takes none); every other LiteLLM field stays
        // in the gateway.
        let metadata = match api {
            ClientApi::Messages => {
                litellm_fields::anthropic_metadata(request.get_value("metadata"))
            }
            _ => None,
        };
        litellm_fields::strip(&mut request);
        if let Some(metadata) = metadata {
            request.insert("metadata", metadata);
        }
        // count_tokens takes the prompt only (no max_tokens, sampling or stream).
        const COUNT_PARAMS: [&str; 4] = ["system", "thinking", "tool_choice", "tools"];
        for (k, v) in &dep.default_params {
            let native = match api {
                ClientApi::CountTokens => COUNT_PARAMS.contains(&k.as_str()),
                _ => anthropic_client::NATIVE_PARAMS.contains(&k.as_str()),
            };
            if native && !request.contains_key(k) {
                request.insert(k, v.clone());
            }
        }
        self.stream = api == ClientApi::Messages && request.get_bool("stream").unwrap_or(false);
        let path = format!(
            "{}/v1/{}",
            dep.path_prefix,
            api.path(Endpoint::ChatCompletions)
        );
        if self.original_path.as_deref() != Some(path.as_str()) {
            host.set_request_header(":path", Some(&path));
        }
        if request.changed() {
            let body = request
                .to_vec()
                .map_err(|e| GatewayError::internal(format!("could not serialize request: {e}")))?;
            host.replace_request_body(size, &body);
            if self.debug {
                self.log_request(dep, host, &body);
            }
        } else if self.debug {
            let body = host.request_body(size).unwrap_or_default();
            self.log_request(dep, host, &body);
        }
        Ok(())
    }
}
