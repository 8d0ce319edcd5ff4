use switchyard_contract::metrics::{
    self as m, MetricsConfig, MetricsGroup, FAMILIES, MAX_SERIES_PER_FAMILY, OVERFLOW_LABEL_VALUE,
};
use switchyard_contract::plugin_config::RouterConfig;

use super::catalog::{self, catalog_key, Series};
use super::render::{escape_label_value, go_float};
use super::*;
use crate::cost::Usage;
use crate::host::tests::MockHost;
use crate::observe::record::KeyLabels;
use crate::test_support::group;

fn router_config(metrics: MetricsConfig) -> RouterConfig {
    RouterConfig {
        aliases: [("gpt-4".to_string(), "gpt-4o".to_string())].into(),
        metrics,
        ..crate::test_support::router_config(vec![
            group("gpt-4o"),
            group("claude"),
            group("openai/*"),
        ])
    }
}

fn metrics() -> Metrics {
    Metrics::from_config(&router_config(MetricsConfig::default()))
}

fn attempt(group: &str, status: u16) -> AttemptRecord {
    AttemptRecord {
        model_id: format!("{group}-id"),
        model: format!("openai/{group}"),
        model_group: group.into(),
        api_provider: "openai".into(),
        api_base: "http://127.0.0.1:9/v1".into(),
        status,
        start_ms: 1_000_100,
        end_ms: 1_000_400,
        usage: (status == 200).then_some(Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            ..Usage::default()
        }),
        spend: if status == 200 { 0.000_125 } else { 0.0 },
        ..AttemptRecord::default()
    }
}

fn success(model: &str, user: &str) -> RequestRecord {
    RequestRecord {
        call_id: "call-1".into(),
        route: "/v1/chat/completions".into(),
        call_type: "acompletion".into(),
        requested_model: model.into(),
        status: 200,
        start_ms: 1_000_000,
        end_ms: 1_000_500,
        key: KeyLabels {
            hashed_api_key: "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
                .into(),
            api_key_alias: "ci".into(),
            team: "team-1".into(),
            team_alias: "".into(),
            user: user.into(),
        },
        attempts: vec![attempt(model, 200)],
        ..RequestRecord::default()
    }
}

/// The value of the sample `name{labels…}` whose labels include every `(k, v)` of
/// `having`, from rendered text; the sum over every match.
fn sample(text: &str, name: &str, having: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| {
            having
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

fn series_of(host: &MockHost, family: &str) -> Vec<Series> {
    catalog::read(host, m::family_named(family).unwrap())
}

#[test]
fn every_family_of_the_table_is_rendered_with_help_and_type() {
    let host = MockHost::default();
    let metrics = metrics();
    metrics.prepare(&host);
    let text = metrics.render(&host);
    for family in FAMILIES {
        let exposed = match family.kind {
            MetricKind::Counter => format!("{}_total", family.name),
            _ => family.name.to_string(),
        };
        assert!(
            text.contains(&format!("# HELP {exposed} {}\n", family.help)),
            "{exposed}"
        );
        assert!(
            text.contains(&format!("# TYPE {exposed} {}\n", family.kind.as_str())),
            "{exposed}"
        );
    }
    // Nothing but HELP and TYPE before any request.
    assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
}

#[test]
fn a_success_counts_requests_tokens_spend_and_latency_under_litellms_labels() {
    let host = MockHost::default();
    let metrics = metrics();
    metrics.observe(&host, &success("gpt-4o", "u1"));
    let text = metrics.render(&host);
    let total = "litellm_proxy_total_requests_metric_total";
    assert_eq!(
        sample(
            &text,
            total,
            &[
                ("requested_model", "gpt-4o"),
                ("status_code", "200"),
                ("api_key_alias", "ci"),
                ("model_id", "gpt-4o-id"),
                ("api_provider", "openai")
            ]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "litellm_input_tokens_metric_total",
            &[("model", "openai/gpt-4o")]
        ),
        10.0
    );
    assert_eq!(
        sample(&text, "litellm_output_tokens_metric_total", &[]),
        5.0
    );
    assert_eq!(
        sample(&text, "litellm_total_tokens_metric_total", &[]),
        15.0
    );
    assert!(text.contains("litellm_spend_metric_total{"), "{text}");
    assert_eq!(sample(&text, "litellm_spend_metric_total", &[]), 0.000125);
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_success_responses_total",
            &[
                ("litellm_model_name", "openai/gpt-4o"),
                ("api_base", "http://127.0.0.1:9/v1")
            ]
        ),
        1.0
    );
    assert_eq!(
        sample(&text, "litellm_deployment_total_requests_total", &[]),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_state",
            &[("model_id", "gpt-4o-id")]
        ),
        0.0
    );
    assert!(text.contains("litellm_deployment_state{"), "{text}");
    // 500 ms end to end, 300 ms upstream, 200 ms ours.
    assert_eq!(
        sample(&text, "litellm_request_total_latency_metric_sum", &[]),
        0.5
    );
    assert_eq!(
        sample(&text, "litellm_llm_api_latency_metric_sum", &[]),
        0.3
    );
    assert_eq!(
        sample(
            &text,
            "litellm_overhead_latency_metric_sum",
            &[("model_group", "gpt-4o")]
        ),
        0.2
    );
    // Not a stream: no time to first token (LiteLLM emits it for streams only).
    assert_eq!(
        sample(
            &text,
            "litellm_llm_api_time_to_first_token_metric_count",
            &[]
        ),
        0.0
    );
    // Nothing failed.
    assert!(!text.contains("litellm_proxy_failed_requests_metric_total{"));
    // Client-controlled labels are off by default.
    assert!(!text.contains("end_user="), "{text}");
}

#[test]
fn histogram_buckets_are_cumulative_with_count_and_sum_in_seconds() {
    let host = MockHost::default();
    let metrics = metrics();
    for total_ms in [4u64, 300, 700_000] {
        let mut r = success("gpt-4o", "u1");
        r.end_ms = r.start_ms + total_ms;
        metrics.observe(&host, &r);
    }
    let text = metrics.render(&host);
    let name = "litellm_request_total_latency_metric_bucket";
    let at = |le: &str| sample(&text, name, &[("le", le)]);
    assert_eq!(at("0.005"), 1.0, "{text}");
    assert_eq!(at("0.25"), 1.0);
    assert_eq!(at("0.5"), 2.0);
    assert_eq!(at("600.0"), 2.0);
    assert_eq!(at("+Inf"), 3.0);
    assert_eq!(
        sample(&text, "litellm_request_total_latency_metric_count", &[]),
        3.0
    );
    assert_eq!(
        sample(&text, "litellm_request_total_latency_metric_sum", &[]),
        700.304
    );
    // Buckets in order (labels sorted by name, `le` among them), then _count, then _sum.
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("litellm_request_total_latency_metric"))
        .collect();
    assert_eq!(lines.len(), m::LATENCY_BUCKETS.len() + 3);
    assert!(
        lines[0].contains(",hashed_api_key=\"88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b\",le=\"0.005\",model=\"openai/gpt-4o\","),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].starts_with("litellm_request_total_latency_metric_bucket{api_key_alias=\"ci\","),
        "{}",
        lines[0]
    );
    assert!(lines[17].contains("le=\"+Inf\""));
    assert!(lines[18].starts_with("litellm_request_total_latency_metric_count{"));
    assert!(lines[19].starts_with("litellm_request_total_latency_metric_sum{"));
}

#[test]
fn two_workers_of_one_envoy_add_up_exactly() {
    let a = MockHost::default();
    let b = MockHost::worker_of(&a);
    // Each worker VM has its own observer (and its own metric ids).
    let (ma, mb) = (metrics(), metrics());
    ma.prepare(&a);
    mb.prepare(&b);
    for i in 0..7 {
        let r = success("gpt-4o", "u1");
        if i % 2 == 0 {
            ma.observe(&a, &r);
        } else {
            mb.observe(&b, &r);
        }
    }
    mb.observe(&b, &success("claude", "u1"));
    for text in [ma.render(&a), mb.render(&b)] {
        let total = "litellm_proxy_total_requests_metric_total";
        assert_eq!(
            sample(&text, total, &[("requested_model", "gpt-4o")]),
            7.0,
            "{text}"
        );
        assert_eq!(sample(&text, total, &[("requested_model", "claude")]), 1.0);
        assert_eq!(
            sample(&text, "litellm_input_tokens_metric_total", &[]),
            80.0
        );
    }
    // One series per label set, whoever saw it first.
    assert_eq!(series_of(&a, m::PROXY_TOTAL_REQUESTS).len(), 2);
}

#[test]
fn an_append_that_loses_the_cas_race_is_retried_and_both_series_survive() {
    let a = MockHost::default();
    let metrics_a = metrics();
    metrics_a.prepare(&a);
    // What worker B's append makes the catalog, staged to land between worker A's
    // read and its write.
    let b_process = MockHost::default();
    let metrics_b = metrics();
    metrics_b.prepare(&b_process);
    metrics_b.observe(&b_process, &success("claude", "u2"));
    let key = catalog_key(m::PROXY_TOTAL_REQUESTS);
    let b_catalog = b_process.shared_data(&key).unwrap();
    a.process.racing_writes.borrow_mut().push((key, b_catalog));

    metrics_a.observe(&a, &success("gpt-4o", "u1"));
    assert!(
        a.process.cas_mismatches.get() >= 1,
        "the race was not staged"
    );
    let models: Vec<String> = series_of(&a, m::PROXY_TOTAL_REQUESTS)
        .iter()
        .map(|s| {
            s.labels
                .iter()
                .find(|(n, _)| n == "requested_model")
                .unwrap()
                .1
                .clone()
        })
        .collect();
    assert!(models.contains(&"gpt-4o".to_string()), "{models:?}");
    assert!(models.contains(&"claude".to_string()), "{models:?}");
}

#[test]
fn five_thousand_distinct_users_and_models_stay_under_the_cap() {
    let host = MockHost::default();
    let metrics = metrics();
    metrics.prepare(&host);
    for i in 0..5_000 {
        // Distinct key users, and a client-invented model (a failure: no attempt).
        metrics.observe(&host, &success("gpt-4o", &format!("user-{i}")));
        let mut failed = success(&format!("invented-{i}"), "u");
        failed.status = 400;
        failed.attempts.clear();
        metrics.observe(&host, &failed);
    }
    for family in FAMILIES {
        let n = series_of(&host, family.name).len();
        assert!(n <= MAX_SERIES_PER_FAMILY + 1, "{}: {n}", family.name);
    }
    let text = metrics.render(&host);
    let total = "litellm_proxy_total_requests_metric_total";
    // Every request counted: the first label sets in their series, the rest in the
    // overflow series.
    assert_eq!(sample(&text, total, &[]), 10_000.0);
    assert_eq!(
        sample(&text, total, &[("status_code", "200")]),
        (MAX_SERIES_PER_FAMILY - 1) as f64
    );
    assert_eq!(
        sample(
            &text,
            total,
            &[
                ("user", OVERFLOW_LABEL_VALUE),
                ("status_code", OVERFLOW_LABEL_VALUE)
            ]
        ),
        (5_000 - MAX_SERIES_PER_FAMILY + 1) as f64
    );
    // Invented models are one series: `other`.
    assert_eq!(
        sample(
            &text,
            total,
            &[("requested_model", "other"), ("status_code", "400")]
        ),
        5_000.0,
        "{}",
        &text[..2000]
    );
    assert!(!text.contains("invented-"));
}

#[test]
fn label_values_are_escaped_like_prometheus_client() {
    assert_eq!(escape_label_value("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
    let host = MockHost::default();
    let metrics = Metrics::from_config(&router_config(MetricsConfig::default()));
    let mut r = success("gpt-4o", "u");
    r.attempts[0].model = "we\"ird\\mo\ndel".into();
    metrics.observe(&host, &r);
    let text = metrics.render(&host);
    assert!(text.contains(r#"model="we\"ird\\mo\ndel""#), "{text}");
    // Every sample stays on one line.
    assert!(
        text.lines()
            .all(|l| l.starts_with('#') || l.starts_with("litellm_")),
        "{text}"
    );
}

#[test]
fn no_plaintext_key_reaches_the_output() {
    let host = MockHost::default();
    let metrics = metrics();
    let r = success("gpt-4o", "u");
    metrics.observe(&host, &r);
    let text = metrics.render(&host);
    assert!(text.contains(&r.key.hashed_api_key));
    assert!(!text.contains("sk-"), "{text}");
    for family in FAMILIES {
        let catalog = host
            .shared_data(&catalog_key(family.name))
            .unwrap_or_default();
        assert!(!String::from_utf8(catalog).unwrap().contains("sk-"));
    }
}

#[test]
fn failures_fallbacks_and_invalid_keys() {
    let host = MockHost::default();
    let metrics = metrics();
    // A provider error the client got (after one retry).
    let mut failed = success("gpt-4o", "u");
    failed.status = 429;
    failed.attempts = vec![attempt("gpt-4o", 429), attempt("gpt-4o", 429)];
    metrics.observe(&host, &failed);
    // A fallback: gpt-4o failed with a 500, claude served it.
    let mut fell_back = success("gpt-4o", "u");
    let mut served = attempt("claude", 200);
    served.fallback_index = 1;
    fell_back.attempts = vec![attempt("gpt-4o", 500), served];
    metrics.observe(&host, &fell_back);
    // An invalid key: counted nowhere.
    let mut refused = success("gpt-4o", "u");
    refused.status = 401;
    refused.attempts.clear();
    metrics.observe(&host, &refused);
    // A mock group's answer (no attempt): a request, no deployment.
    let mut mocked = success("gpt-4o", "u");
    mocked.attempts.clear();
    metrics.observe(&host, &mocked);
    // Not an LLM call: counted nowhere.
    let mut models = success("gpt-4o", "u");
    models.route = "/v1/models".into();
    models.call_type.clear();
    metrics.observe(&host, &models);

    let text = metrics.render(&host);
    let failed_name = "litellm_proxy_failed_requests_metric_total";
    assert_eq!(
        sample(
            &text,
            failed_name,
            &[
                ("exception_status", "429"),
                ("exception_class", "Openai.RateLimitError"),
                ("requested_model", "gpt-4o")
            ]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(sample(&text, failed_name, &[]), 1.0);
    let total = "litellm_proxy_total_requests_metric_total";
    assert_eq!(sample(&text, total, &[]), 3.0);
    assert_eq!(sample(&text, total, &[("status_code", "429")]), 1.0);
    assert_eq!(
        sample(
            &text,
            total,
            &[
                ("status_code", "200"),
                ("requested_model", "gpt-4o"),
                ("model_id", "")
            ]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            total,
            &[("status_code", "200"), ("requested_model", "claude")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_failure_responses_total",
            &[("model_id", "gpt-4o-id")]
        ),
        3.0
    );
    assert_eq!(
        sample(&text, "litellm_deployment_total_requests_total", &[]),
        4.0
    );
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_state",
            &[("model_id", "gpt-4o-id")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_successful_fallbacks_total",
            &[
                ("requested_model", "gpt-4o"),
                ("fallback_model", "claude"),
                ("exception_status", "500")
            ]
        ),
        1.0
    );
    assert!(!text.contains("litellm_deployment_failed_fallbacks_total{"));
}

#[test]
fn requested_model_is_bounded_to_configured_names() {
    let metrics = metrics();
    assert_eq!(metrics.bounded_requested_model("gpt-4o"), "gpt-4o");
    assert_eq!(metrics.bounded_requested_model("gpt-4"), "gpt-4");
    assert_eq!(
        metrics.bounded_requested_model("openai/o3-mini"),
        "openai/*"
    );
    assert_eq!(metrics.bounded_requested_model("sk-live-1234"), "other");
    assert_eq!(metrics.bounded_requested_model(""), "");
}

#[test]
fn prometheus_metrics_config_selects_families_and_labels() {
    let config = MetricsConfig {
        groups: vec![MetricsGroup {
            group: "usage".into(),
            metrics: vec![m::PROXY_TOTAL_REQUESTS.into()],
            include_labels: Some(vec!["end_user".into(), "requested_model".into()]),
        }],
        ..MetricsConfig::default()
    };
    let metrics = Metrics::from_config(&router_config(config));
    let host = MockHost::default();
    let mut r = success("gpt-4o", "u");
    r.end_user = "customer-7".into();
    metrics.observe(&host, &r);
    let text = metrics.render(&host);
    assert!(text.contains(
        "litellm_proxy_total_requests_metric_total{end_user=\"customer-7\",requested_model=\"gpt-4o\"} 1.0\n"
    ), "{text}");
    assert!(!text.contains("litellm_spend_metric"), "{text}");
}

#[test]
fn floats_are_written_as_prometheus_client_writes_them() {
    for (value, text) in [
        (1.0, "1.0"),
        (0.0, "0.0"),
        (0.005, "0.005"),
        (600.0, "600.0"),
        (0.000125, "0.000125"),
        (0.00001, "1e-05"),
        (1234567.0, "1.234567e+06"),
        (100000.0, "100000.0"),
        (1e16, "1e+16"),
        (f64::INFINITY, "+Inf"),
    ] {
        assert_eq!(go_float(value), text, "{value}");
    }
}

#[test]
fn envoys_stats_lose_only_the_internal_series() {
    let envoy = "# TYPE envoy_cluster_upstream_rq counter\nenvoy_cluster_upstream_rq{envoy_cluster_name=\"x\"} 3\n# TYPE envoy_wasmcustom_switchyard_series_00ff counter\nenvoy_wasmcustom_switchyard_series_00ff 7\n";
    let kept = render::envoy_stats_without_internal(envoy);
    assert_eq!(
        kept,
        "# TYPE envoy_cluster_upstream_rq counter\nenvoy_cluster_upstream_rq{envoy_cluster_name=\"x\"} 3\n"
    );
}

#[test]
fn a_success_sets_the_key_and_team_budget_gauges_from_the_admission() {
    use crate::observe::record::{AdmissionBudgets, Budget};
    let host = MockHost::default();
    let metrics = metrics();
    metrics.prepare(&host);
    // Key: 10 USD budget, 1.5 spent before; team: no budget, 7 spent.
    let mut record = success("gpt-4o", "u1");
    record.key.team_alias = "Team One".into();
    record.budgets = AdmissionBudgets {
        key: Some(Budget {
            spend: 1.5,
            max_budget: Some(10.0),
        }),
        team: Some(Budget {
            spend: 7.0,
            max_budget: None,
        }),
    };
    metrics.observe(&host, &record);
    let text = metrics.render(&host);
    let key = [
        ("hashed_api_key", record.key.hashed_api_key.as_str()),
        ("api_key_alias", "ci"),
    ];
    // remaining = 10 - (1.5 + 0.000125), as LiteLLM computes it.
    assert_eq!(
        sample(&text, "litellm_remaining_api_key_budget_metric", &key),
        10.0 - (1.5 + 0.000_125)
    );
    assert_eq!(
        sample(&text, "litellm_api_key_max_budget_metric", &key),
        10.0
    );
    let team = [("team", "team-1"), ("team_alias", "Team One")];
    assert!(text.contains(
        "litellm_remaining_team_budget_metric{team=\"team-1\",team_alias=\"Team One\"} +Inf\n"
    ));
    // No max budget: no max-budget series (LiteLLM sets it only when there is one).
    assert_eq!(series_of(&host, m::TEAM_MAX_BUDGET).len(), 0, "{text}");
    // The gauge labels are only the scope's own.
    for line in text.lines().filter(|l| l.starts_with("litellm_remaining_")) {
        assert!(!line.contains("model"), "{line}");
    }
    assert_eq!(
        sample(&text, "litellm_remaining_team_budget_metric", &team),
        f64::INFINITY
    );

    // A second call overspends: the gauge goes negative, and is the same series.
    let mut second = record.clone();
    second.budgets.key = Some(Budget {
        spend: 10.5,
        max_budget: Some(10.0),
    });
    metrics.observe(&host, &second);
    let text = metrics.render(&host);
    assert_eq!(
        sample(&text, "litellm_remaining_api_key_budget_metric", &key),
        10.0 - (10.5 + 0.000_125)
    );
    assert_eq!(series_of(&host, m::REMAINING_API_KEY_BUDGET).len(), 1);

    // A failed call sets no budget gauge (LiteLLM sets them on success only), and
    // a record without budgets (keys off, the master key) sets none either.
    let host = MockHost::default();
    let metrics = self::metrics();
    metrics.prepare(&host);
    let mut failed = record.clone();
    failed.status = 500;
    failed.attempts = vec![attempt("gpt-4o", 500)];
    metrics.observe(&host, &failed);
    let mut open = success("gpt-4o", "u1");
    open.budgets = AdmissionBudgets::default();
    metrics.observe(&host, &open);
    for family in [
        m::REMAINING_API_KEY_BUDGET,
        m::API_KEY_MAX_BUDGET,
        m::REMAINING_TEAM_BUDGET,
        m::TEAM_MAX_BUDGET,
    ] {
        assert_eq!(series_of(&host, family).len(), 0, "{family}");
    }
}

#[test]
fn client_ip_and_user_agent_are_labels_only_when_included() {
    let mut record = success("gpt-4o", "u1");
    record.client_ip = "10.1.2.3".into();
    record.user_agent = "OpenAI/Python 1.50.0".into();
    // Default: neither label.
    let host = MockHost::default();
    let metrics = metrics();
    metrics.observe(&host, &record);
    let text = metrics.render(&host);
    assert!(
        !text.contains("client_ip=") && !text.contains("user_agent="),
        "{text}"
    );
    // Named in include_labels: both, with the record's values.
    let config = MetricsConfig {
        groups: vec![MetricsGroup {
            group: "clients".into(),
            metrics: vec![m::PROXY_TOTAL_REQUESTS.into(), m::DEPLOYMENT_TOTAL.into()],
            include_labels: Some(vec!["client_ip".into(), "user_agent".into()]),
        }],
        ..MetricsConfig::default()
    };
    let host = MockHost::default();
    let metrics = Metrics::from_config(&router_config(config));
    metrics.observe(&host, &record);
    let text = metrics.render(&host);
    let having = [
        ("client_ip", "10.1.2.3"),
        ("user_agent", "OpenAI/Python 1.50.0"),
    ];
    assert_eq!(
        sample(&text, "litellm_proxy_total_requests_metric_total", &having),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "litellm_deployment_total_requests_total", &having),
        1.0,
        "{text}"
    );
}

#[test]
fn allowed_fails_consecutive_failures_count_one_cooldown_and_a_complete_outage() {
    let host = MockHost::default();
    let config = MetricsConfig {
        allowed_fails: 2,
        ..MetricsConfig::default()
    };
    let metrics = Metrics::from_config(&router_config(config));
    metrics.prepare(&host);
    let mut failed = success("gpt-4o", "u1");
    failed.status = 500;
    failed.attempts = vec![attempt("gpt-4o", 500)];
    metrics.observe(&host, &failed);
    let text = metrics.render(&host);
    assert_eq!(
        sample(&text, "litellm_deployment_cooled_down_total", &[]),
        0.0,
        "{text}"
    );
    metrics.observe(&host, &failed);
    let text = metrics.render(&host);
    // LiteLLM's cooldown callback: labelled with the group as litellm_model_name.
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_cooled_down_total",
            &[
                ("litellm_model_name", "gpt-4o"),
                ("model_id", "gpt-4o-id"),
                ("api_provider", "openai"),
                ("exception_status", "500")
            ]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_state",
            &[("litellm_model_name", "gpt-4o"), ("model_id", "gpt-4o-id")]
        ),
        2.0,
        "{text}"
    );
    // The attempt's own state series (litellm_params.model) says partial outage.
    assert_eq!(
        sample(
            &text,
            "litellm_deployment_state",
            &[("litellm_model_name", "openai/gpt-4o")]
        ),
        1.0
    );
    // A success resets the count: one more failure does not cool it down again.
    metrics.observe(&host, &success("gpt-4o", "u1"));
    metrics.observe(&host, &failed);
    let text = metrics.render(&host);
    assert_eq!(
        sample(&text, "litellm_deployment_cooled_down_total", &[]),
        1.0
    );
}

#[test]
fn a_number_that_adds_nothing_makes_no_stat_update_and_still_renders() {
    let host = MockHost::default();
    let metrics = metrics();
    metrics.prepare(&host);
    // No price, no tokens, every latency under a millisecond.
    let mut record = success("gpt-4o", "u-1");
    record.end_ms = record.start_ms;
    for a in &mut record.attempts {
        a.start_ms = record.start_ms;
        a.end_ms = record.start_ms;
        a.spend = 0.0;
        a.usage = Some(Usage::default());
    }
    metrics.observe(&host, &record);
    // Deployment success, total and state; total requests; one bucket of each of the
    // three latency histograms. Not: spend, the three token counters, the sums.
    assert_eq!(host.metric_updates.get(), 7);
    let text = metrics.render(&host);
    let having = [("requested_model", "gpt-4o")];
    assert_eq!(
        sample(&text, "litellm_proxy_total_requests_metric_total", &having),
        1.0
    );
    assert_eq!(sample(&text, "litellm_spend_metric_total", &having), 0.0);
    assert_eq!(
        sample(&text, "litellm_input_tokens_metric_total", &having),
        0.0
    );
    assert!(
        text.contains("litellm_spend_metric_total{"),
        "a series that only ever added 0 is still rendered:\n{text}"
    );
    assert_eq!(
        sample(&text, "litellm_request_total_latency_metric_count", &having),
        1.0
    );
    assert_eq!(
        sample(&text, "litellm_request_total_latency_metric_sum", &having),
        0.0
    );
}
