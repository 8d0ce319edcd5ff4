//! Request-body fields that belong to LiteLLM, not to any provider: the filter removes
//! them from every request, and the config compiler refuses them as a deployment's
//! default parameters.
//!
//! LiteLLM's proxy and SDK consume a set of top-level body fields themselves —
//! routing (`fallbacks`, `num_retries`, `timeout`), caching (`cache`, `caching`,
//! `ttl`), spend tracking (`metadata`, `tags`), mocks (`mock_response`), client-side
//! credentials, callback keys, prices — and never send them to a provider. A
//! LiteLLM client sends them to Switchyard too, so the upstream stage removes every
//! one of them from every request, whatever the endpoint and provider
//! (`switchyard_filter::litellm_fields::strip`, called where the body is parsed one level
//! deep).
//! Those with a meaning are read before that: `num_retries`, `timeout`,
//! `fallbacks`, `mock_response` by the router stage, `metadata` and `tags` for spend
//! logs (`switchyard_filter::spend::SpendLabels`).
//!
//! [`LITELLM_ONLY_FIELDS`] is the one list. It is LiteLLM 1.108.14's
//! `litellm.types.utils.all_litellm_params` (every field a provider never gets from
//! `litellm.completion`: `is_litellm_owned_kwarg`), plus the fields LiteLLM's proxy
//! and router take out of a request body before the call, each group naming its
//! source. Checked field by field against OpenAI's and Anthropic's request
//! parameters: none of them is one that LiteLLM sends on (see
//! `docs/litellm-behaviour.md`, "Request fields LiteLLM keeps to itself"), with one
//! exception handled by the caller: on `/v1/messages` to an Anthropic deployment,
//! `metadata` is Anthropic's own parameter and goes on as `{"user_id": …}`
//! (`switchyard_filter::litellm_fields::anthropic_metadata`), as LiteLLM sends it. `priority` is deliberately absent:
//! LiteLLM's scheduler reads it without removing it, and it is Cohere's own
//! parameter. The integration tests read this list from this file
//! (`integration-tests/test_litellm_fields.py`), so it is kept as one literal array.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Every top-level request field LiteLLM keeps to itself (see the module docs).
#[rustfmt::skip]
pub const LITELLM_ONLY_FIELDS: &[&str] = &[
    // ---- `litellm.types.utils.all_litellm_params` (litellm/types/utils.py:4235) ----
    // `ConnectionSettings.provider` = `ProviderConnection` (litellm/types/litellm_params.py:66)
    "api_key", "api_base", "api_version", "region_name", "headers", "provider_specific_header",
    "client", "shared_session", "ssl_verify", "request_timeout", "force_timeout",
    "stream_timeout", "timeout_by_service_tier", "stream_timeout_by_service_tier",
    "max_retries", "tenant_id", "client_id", "client_secret", "azure_username",
    "azure_password", "azure_scope", "azure_ad_token_provider", "litellm_credential_name",
    "configurable_clientside_auth_params", "use_xai_oauth", "github_copilot_auth_type",
    "github_copilot_user_session", "token_exchange_endpoint", "token_exchange_profile",
    "token_exchange_scope", "token_exchange_audience", "fireworks_forward_user_id",
    // `ConnectionSettings.bedrock_batch` = `BedrockBatchConnection` (litellm/types/litellm_params.py:102)
    "aws_batch_role_arn", "s3_bucket_name", "s3_region_name", "s3_endpoint_url",
    "s3_output_bucket_name", "s3_bucket_owner", "s3_access_key_id", "s3_secret_access_key",
    "s3_encryption_key_id", "bedrock_tags",
    // `ConnectionSettings.anthropic_federation` = `AnthropicFederationConnection` (litellm/types/litellm_params.py:117)
    "anthropic_federation_rule_id", "anthropic_organization_id", "anthropic_service_account_id",
    "anthropic_federation_workspace_id", "anthropic_identity_token_file",
    "anthropic_identity_token", "anthropic_identity_source", "anthropic_issuer_url",
    "anthropic_issuer_subject", "anthropic_issuer_audience", "anthropic_issuer_ttl_seconds",
    "anthropic_issuer_signing_key_ref", "anthropic_keycloak_token_url",
    "anthropic_keycloak_client_id", "anthropic_keycloak_auth_method",
    "anthropic_keycloak_client_secret_ref", "anthropic_keycloak_scope",
    "anthropic_disable_workload_identity_federation",
    // `ConnectionSettings.openai_federation` = `OpenAIFederationConnection` (litellm/types/litellm_params.py:139)
    "openai_identity_provider_id", "openai_service_account_id", "openai_identity_token_file",
    // `LiteLLMOptions.dispatch` = `DispatchOptions` (litellm/types/litellm_params.py:154)
    "custom_llm_provider", "azure", "use_litellm_proxy", "use_chat_completions_api",
    "use_in_pass_through", "allowed_openai_params",
    // `LiteLLMOptions.routing` = `RoutingOptions` (litellm/types/litellm_params.py:164)
    "fallbacks", "context_window_fallback_dict", "num_retries", "retry_policy",
    "retry_strategy", "routing_strategy", "cooldown_time", "allowed_model_region",
    "enable_tag_filtering", "fastest_response", "provider_affinity_header", "search_tool_name",
    "model_list",
    // `LiteLLMOptions.deployment` = `DeploymentOptions` (litellm/types/litellm_params.py:181)
    "model_info", "rpm", "tpm", "itpm", "otpm", "default_api_key_rpm_limit",
    "default_api_key_tpm_limit", "max_parallel_requests", "weight", "order", "tag_regex",
    "max_file_size_mb", "silent_model",
    // `LiteLLMOptions.specialized_routers` = `SpecializedRouterOptions` (litellm/types/litellm_params.py:198)
    "auto_router_config_path", "auto_router_config", "auto_router_default_model",
    "auto_router_embedding_model", "auto_router_max_input_chars",
    "auto_router_routing_compression", "auto_router_model_compression",
    "complexity_router_config", "complexity_router_default_model", "adaptive_router_config",
    "adaptive_router_default_model", "quality_router_config", "quality_router_default_model",
    // `LiteLLMOptions.caching` = `CachingOptions` (litellm/types/litellm_params.py:215)
    "caching", "cache", "ttl", "enable_prompt_caching", "caching_groups",
    // `LiteLLMOptions.cost` = `CostOptions` (litellm/types/litellm_params.py:224)
    "cost_per_query", "base_model", "max_budget", "budget_duration",
    // `LiteLLMOptions.observability` = `ObservabilityOptions` (litellm/types/litellm_params.py:232)
    "id", "metadata", "litellm_metadata", "tags", "litellm_trace_id", "litellm_session_id",
    "litellm_request_debug", "logger_fn", "verbose", "no-log", "log_client_error_tracebacks",
    // `LiteLLMOptions.agentic_loop` = `AgenticLoopOptions` (litellm/types/litellm_params.py:247)
    "max_agentic_loops",
    // `LiteLLMOptions.guardrails` = `GuardrailOptions` (litellm/types/litellm_params.py:252)
    "guardrails",
    // `LiteLLMOptions.prompt` = `PromptOptions` (litellm/types/litellm_params.py:257)
    "prompt_id", "prompt_variables", "prompt_version", "prompt_environment", "prompt_label",
    "litellm_system_prompt", "custom_prompt_dict", "roles", "final_prompt_value", "bos_token",
    "eos_token", "hf_model_name", "supports_system_message", "ensure_alternating_roles",
    "user_continue_message", "assistant_continue_message",
    "disable_add_transform_inline_image_block",
    // `LiteLLMOptions.response` = `ResponseOptions` (litellm/types/litellm_params.py:278)
    "merge_reasoning_content_in_choices", "enable_json_schema_validation", "complete_response",
    "keepalive_seconds", "allow_client_keepalive_override",
    // `LiteLLMOptions.control` = `ControlOptions` (litellm/types/litellm_params.py:300)
    "stream_chunk_size", "fake_stream",
    // `LiteLLMOptions.mock` = `MockOptions` (litellm/types/litellm_params.py:313)
    "mock_response", "mock_timeout",
    // `InternalState.call` = `CallState` (litellm/types/litellm_params.py:336)
    "litellm_call_id", "completion_call_id", "model_alias_map", "data_residency",
    "litellm_logging_obj", "preset_cache_key", "cache_key", "stream_response",
    "_context_compaction_state",
    // `InternalState.agentic_loop` = `AgenticLoopState` (litellm/types/litellm_params.py:356)
    "_agentic_loop_depth", "_agentic_loop_fingerprints", "_agentic_loop_api_surface",
    "_agentic_loop_tool_choice", "_code_interpreter_interception_active",
    "_code_interpreter_interception_sandbox_key",
    "_code_interpreter_interception_session_scoped",
    "_code_interpreter_interception_converted_stream",
    "_code_interpreter_interception_stream_options",
    "_websearch_interception_emit_native_blocks", "_websearch_interception_converted_stream",
    "_websearch_interception_stream_options", "_headroom_interception_converted_stream",
    "_headroom_interception_stream_options",
    // `InternalState.mcp_handler` = `McpHandlerState` (litellm/types/litellm_params.py:349)
    "_skip_mcp_handler", "skip_mcp_handler", "mcp_handler_context",
    // `InternalState.router` = `RouterState` (litellm/types/litellm_params.py:394)
    "_router_weights", "fallback_depth", "max_fallbacks", "attempted_targets",
    // `InternalState.proxy` = `ProxyRequestState` (litellm/types/litellm_params.py:402)
    "proxy_server_request", "secret_fields", "litellm_trusted_callback_vars",
    "_litellm_addressed_response_id", "_litellm_strip_stream_usage", "client_side_timeout",
    "model_file_id_mapping",
    // `InternalState.entrypoint` = `EntrypointState` (litellm/types/litellm_params.py:413)
    "acompletion", "aembedding", "aimg_generation", "atext_completion", "text_completion",
    "allm_passthrough_route", "async_call",
    // `KWARG_ARTIFACTS` (litellm/types/litellm_params.py:433)
    "self", "use_client", "model_config", "rust",
    // `StandardCallbackDynamicParams` (litellm/types/utils.py:3870)
    "langfuse_public_key", "langfuse_secret", "langfuse_secret_key", "langfuse_host",
    "langfuse_environment", "langfuse_span_scope", "langfuse_prompt_version", "gcs_bucket_name",
    "gcs_path_service_account", "langsmith_api_key", "langsmith_project", "langsmith_base_url",
    "langsmith_sampling_rate", "langsmith_tenant_id", "humanloop_api_key", "arize_api_key",
    "arize_space_key", "arize_space_id", "arize_success_sampling_rate",
    "arize_error_sampling_rate", "arize_otlp_protocol", "posthog_api_key", "posthog_api_url",
    "wandb_api_key", "weave_project_id", "dd_api_key", "dd_site", "dd_agent_host",
    "dd_agent_port", "newrelic_api_key", "newrelic_region", "signoz_ingestion_endpoint",
    "signoz_ingestion_key", "turn_off_message_logging", "litellm_disabled_callbacks",
    // `CustomPricingLiteLLMParams` (litellm/types/utils.py:3947)
    "input_cost_per_token", "output_cost_per_token", "input_cost_per_character",
    "output_cost_per_character", "cache_read_input_token_cost",
    "cache_creation_input_token_cost", "tiered_pricing", "cost_per_second",
    "input_cost_per_second", "input_cost_per_text_message", "output_cost_per_second",
    "output_cost_per_second_1080p", "output_cost_per_second_480p",
    "output_cost_per_second_720p", "output_cost_per_second_768p", "output_cost_per_second_2k",
    "output_cost_per_second_4k", "output_cost_per_image_512", "output_cost_per_image_1024",
    "output_cost_per_image_1536", "input_cost_per_pixel", "output_cost_per_pixel",
    "input_cost_per_token_flex", "input_cost_per_token_priority",
    "input_cost_per_token_balanced", "input_cost_per_token_ultrafast",
    "cache_creation_input_token_cost_above_1hr",
    "cache_creation_input_token_cost_above_100k_tokens",
    "cache_creation_input_token_cost_above_1hr_above_100k_tokens",
    "cache_creation_input_token_cost_above_200k_tokens",
    "cache_creation_input_token_cost_above_272k_tokens",
    "cache_creation_input_token_cost_above_272k_tokens_priority",
    "cache_creation_input_token_cost_above_272k_tokens_flex",
    "cache_creation_input_token_cost_above_272k_tokens_ultrafast",
    "cache_creation_input_token_cost_flex", "cache_creation_input_token_cost_priority",
    "cache_creation_input_token_cost_ultrafast", "cache_creation_input_audio_token_cost",
    "cache_read_input_token_cost_flex", "cache_read_input_token_cost_priority",
    "cache_read_input_token_cost_balanced", "cache_read_input_token_cost_ultrafast",
    "cache_read_input_token_cost_above_100k_tokens",
    "cache_read_input_token_cost_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens_priority",
    "cache_read_input_token_cost_above_272k_tokens_priority",
    "cache_read_input_token_cost_above_272k_tokens_flex",
    "cache_read_input_token_cost_above_272k_tokens_ultrafast",
    "cache_read_input_token_cost_batches",
    "cache_read_input_token_cost_above_100k_tokens_batches",
    "cache_read_input_token_cost_above_200k_tokens_batches",
    "cache_read_input_token_cost_above_272k_tokens_batches",
    "cache_read_input_audio_token_cost_batches", "cache_creation_input_token_cost_batches",
    "cache_creation_input_token_cost_above_100k_tokens_batches",
    "cache_creation_input_token_cost_above_200k_tokens_batches",
    "cache_creation_input_token_cost_above_272k_tokens_batches",
    "cache_read_input_audio_token_cost", "cache_read_input_audio_token_cost_flex",
    "cache_read_input_audio_token_cost_priority", "cache_read_input_image_token_cost",
    "input_cost_per_character_above_128k_tokens", "input_cost_per_audio_token",
    "input_cost_per_audio_token_flex", "input_cost_per_audio_token_above_200k_tokens",
    "input_cost_per_audio_token_above_200k_tokens_flex",
    "input_cost_per_audio_token_above_200k_tokens_priority",
    "input_cost_per_audio_token_above_200k_tokens_batches",
    "input_cost_per_audio_token_priority", "input_cost_per_token_cache_hit",
    "input_cost_per_token_above_128k_tokens", "input_cost_per_token_above_100k_tokens",
    "input_cost_per_token_above_200k_tokens", "input_cost_per_token_above_200k_tokens_priority",
    "input_cost_per_token_above_272k_tokens_priority",
    "input_cost_per_token_above_272k_tokens_flex",
    "input_cost_per_token_above_272k_tokens_ultrafast",
    "input_cost_per_token_above_200k_tokens_batches",
    "input_cost_per_token_above_200k_tokens_flex",
    "input_cost_per_token_above_100k_tokens_batches",
    "input_cost_per_token_above_272k_tokens_batches", "input_cost_per_query",
    "input_cost_per_image", "input_cost_per_image_above_128k_tokens",
    "input_cost_per_audio_per_second", "input_cost_per_audio_per_second_above_128k_tokens",
    "input_cost_per_video_per_second", "input_cost_per_video_per_second_above_128k_tokens",
    "input_cost_per_video_per_second_above_15s_interval",
    "input_cost_per_video_per_second_above_8s_interval", "input_cost_per_audio_token_batches",
    "input_cost_per_image_token_batches", "input_cost_per_token_batches",
    "input_cost_per_video_token_batches", "output_cost_per_token_batches",
    "output_cost_per_token_flex", "output_cost_per_token_priority",
    "output_cost_per_token_balanced", "output_cost_per_token_ultrafast",
    "output_cost_per_audio_token", "output_cost_per_token_above_128k_tokens",
    "output_cost_per_token_above_100k_tokens", "output_cost_per_token_above_200k_tokens",
    "output_cost_per_token_above_200k_tokens_priority",
    "output_cost_per_token_above_272k_tokens_priority",
    "output_cost_per_token_above_272k_tokens_flex",
    "output_cost_per_token_above_272k_tokens_ultrafast",
    "output_cost_per_token_above_200k_tokens_batches",
    "output_cost_per_token_above_200k_tokens_flex",
    "output_cost_per_token_above_100k_tokens_batches",
    "output_cost_per_token_above_272k_tokens_batches",
    "output_cost_per_character_above_128k_tokens", "output_cost_per_image",
    "output_cost_per_image_token", "output_cost_per_image_token_batches",
    "output_cost_per_image_token_priority", "output_cost_per_video_token",
    "output_cost_per_reasoning_token", "output_cost_per_reasoning_token_flex",
    "output_cost_per_reasoning_token_priority", "output_cost_per_video_per_second",
    "output_cost_per_audio_per_second", "search_context_cost_per_query",
    "google_maps_grounding_cost_per_query", "citation_cost_per_token",
    "cache_read_input_token_cost_above_272k_tokens",
    "cache_read_input_token_cost_above_512k_tokens", "input_cost_per_image_token",
    "input_cost_per_video_token", "input_cost_per_token_above_272k_tokens",
    "input_cost_per_token_above_512k_tokens", "output_cost_per_token_above_272k_tokens",
    "output_cost_per_token_above_512k_tokens", "output_vector_size", "ocr_cost_per_page",
    "ocr_cost_per_page_batches", "ocr_cost_per_credit", "annotation_cost_per_page",
    "annotation_cost_per_page_batches", "regional_processing_uplift_multiplier_eu",
    "regional_processing_uplift_multiplier_us", "regional_endpoint_uplift_multiplier",

    // ---- named parameters of `litellm.completion` / `litellm.embedding` that configure
    // the client, not the request (litellm/main.py; `OPENAI_CHAT_COMPLETION_PARAMS`
    // lists them, litellm/constants.py), sent as headers or used for the connection
    "base_url", "deployment_id", "extra_headers", "default_headers", "organization",
    "timeout", "api_type",
    // ---- the proxy's request setup: fields it removes from a client's body
    // (litellm/proxy/litellm_pre_call_utils.py `_UNTRUSTED_ROOT_CONTROL_FIELDS`, and
    // `move_guardrails_to_metadata`, which moves the guardrail fields into metadata)
    "weights", "_target_order", "standard_logging_object", "mock_tool_calls",
    "disable_global_guardrails", "disable_global_guardrail", "opted_out_global_guardrails",
    "applied_guardrails", "applied_policies", "policy_sources", "guardrail_scan_ids",
    "guardrail_scan_metadata", "routing_decision", "litellm_gateway_injected_cache",
    "pillar_response_headers", "_guardrail_pipelines", "_pipeline_managed_guardrails",
    "callbacks", "service_callback", "guardrail_config", "policies",
    "include_guardrail_response",
    // ---- the proxy's routing (litellm/proxy/route_llm_request.py: `user_config`, a
    // per-request router config; `GATED_MOCK_PARAM_NAMES`, see
    // `REFUSED_MOCK_TESTING_FIELDS`)
    "user_config", "mock_testing_fallbacks", "mock_testing_context_fallbacks",
    "mock_testing_content_policy_fallbacks", "mock_testing_rate_limit_error", "mock_delay",
    // ---- the router's per-request controls (litellm/router.py
    // `async_function_with_fallbacks`, `_common_checks_available_deployment`, …;
    // litellm/router_utils/fallback_event_handlers.py `_PER_REQUEST_FALLBACK_CONTROL_KEYS`)
    "context_window_fallbacks", "content_policy_fallbacks", "model_group_retry_policy",
    "disable_fallbacks", "include_fallback_errors", "specific_deployment",
    "passthrough_on_no_deployment",
    // ---- Anthropic prompt caching by LiteLLM (litellm/integrations/
    // anthropic_cache_control_hook.py, which pops it before the call)
    "cache_control_injection_points",
];

/// Prefixes of LiteLLM-only fields: `_litellm_` is LiteLLM's own
/// (`INTERNAL_KWARG_PREFIX`, litellm/constants.py, in `is_litellm_owned_kwarg`);
/// `user_api_key_` names the key facts LiteLLM's proxy writes for itself
/// (`add_user_api_key_auth_to_request_metadata`), never a provider parameter.
pub const LITELLM_ONLY_PREFIXES: [&str; 2] = ["_litellm_", "user_api_key_"];

/// LiteLLM's mock-testing fields, which its proxy refuses with a 400 unless
/// `general_settings.dangerously_allow_mock_testing_request_params` is set
/// (litellm/proxy/route_llm_request.py `GATED_MOCK_PARAM_NAMES`,
/// `raise_if_mock_testing_params_disallowed`): they fabricate a failure or a delay,
/// and dropping them would turn a fallback test into a silent success. Switchyard
/// refuses them the same way (the router stage), as it has no such setting.
pub const REFUSED_MOCK_TESTING_FIELDS: [&str; 6] = [
    "mock_testing_fallbacks",
    "mock_testing_context_fallbacks",
    "mock_testing_content_policy_fallbacks",
    "mock_testing_rate_limit_error",
    "mock_timeout",
    "mock_delay",
];

/// The names of [`LITELLM_ONLY_FIELDS`] as a set, built once per VM.
fn field_set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| LITELLM_ONLY_FIELDS.iter().copied().collect())
}

/// Whether the top-level field `key` belongs to LiteLLM (never sent to a provider).
pub fn is_litellm_field(key: &str) -> bool {
    field_set().contains(key) || LITELLM_ONLY_PREFIXES.iter().any(|p| key.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_no_duplicates_and_no_provider_parameter() {
        let mut seen = HashSet::new();
        for f in LITELLM_ONLY_FIELDS {
            assert!(seen.insert(*f), "{f} is listed twice");
            assert!(!f.is_empty() && f.is_ascii(), "{f:?}");
        }
        // OpenAI's and Anthropic's request parameters, and those of the providers'
        // native APIs Switchyard passes on: none may be stripped.
        for param in [
            "model",
            "messages",
            "prompt",
            "input",
            "stream",
            "stream_options",
            "temperature",
            "top_p",
            "top_k",
            "n",
            "stop",
            "max_tokens",
            "max_completion_tokens",
            "user",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "response_format",
            "seed",
            "logit_bias",
            "logprobs",
            "top_logprobs",
            "presence_penalty",
            "frequency_penalty",
            "reasoning_effort",
            "thinking",
            "service_tier",
            "store",
            "modalities",
            "audio",
            "prediction",
            "web_search_options",
            "verbosity",
            "prompt_cache_key",
            "safety_identifier",
            "dimensions",
            "encoding_format",
            "suffix",
            "echo",
            "best_of",
            "system",
            "stop_sequences",
            "tool_config",
            "output_config",
            "output_format",
            "container",
            "context_management",
            "mcp_servers",
            "inference_geo",
            "speed",
            "priority",
            "documents",
            "citation_options",
            "safety_mode",
            "keep_alive",
            "options",
            "format",
            "think",
            "safety_settings",
            "cached_content",
        ] {
            assert!(!is_litellm_field(param), "{param} is a provider parameter");
        }
        // The mock-testing fields refused by the router stage are LiteLLM's too.
        for f in REFUSED_MOCK_TESTING_FIELDS {
            assert!(is_litellm_field(f), "{f}");
        }
    }
}
