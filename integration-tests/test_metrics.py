"""`GET /metrics` through the real gateway: LiteLLM's Prometheus families and labels,
Envoy's own stats appended, LiteLLM's auth for the endpoint, and a real Prometheus
scraping it (Debian's `prometheus` package: `source scripts/setup.sh;
ensure_prometheus`).

Covers: the auth matrix (virtual keys: no key 401, an unknown key 401, the master
key and a generated key 200; `require_auth_for_metrics_endpoint: false`: 200 without
a key; keys off: 200); the text parses strictly as Prometheus text format 0.0.4 (our
own checker, then `prometheus_client.parser`); Envoy's `envoy_*` stats are there and
the filter's internal `switchyard_series_*` stats are not; no key appears in it.

A known sequence of requests (success, provider error, stream, fallback, two virtual
keys, two Envoy workers) gives exact counter and token values on `/metrics`, and the
same through a real Prometheus's PromQL.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import harness
from harness import poll
from mocks import OPENAI_KEY, OpenAIMock

MASTER = "sk-master-metrics-0123456789"
#: Every plaintext key this module made: none may appear in /metrics.
SECRETS: list[str] = [MASTER]


#: Families every scrape lists (HELP and TYPE, even before any request), as exposed.
FAMILIES = [
    "litellm_proxy_total_requests_metric_total",
    "litellm_proxy_failed_requests_metric_total",
    "litellm_input_tokens_metric_total",
    "litellm_output_tokens_metric_total",
    "litellm_total_tokens_metric_total",
    "litellm_spend_metric_total",
    "litellm_request_total_latency_metric",
    "litellm_llm_api_latency_metric",
    "litellm_llm_api_time_to_first_token_metric",
    "litellm_overhead_latency_metric",
    "litellm_deployment_state",
    "litellm_deployment_success_responses_total",
    "litellm_deployment_failure_responses_total",
    "litellm_deployment_total_requests_total",
    "litellm_deployment_successful_fallbacks_total",
    "litellm_deployment_failed_fallbacks_total",
    "litellm_remaining_team_budget_metric",
    "litellm_team_max_budget_metric",
    "litellm_remaining_api_key_budget_metric",
    "litellm_api_key_max_budget_metric",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(mock: OpenAIMock, keys: bool, settings: str = "") -> str:
    general = "general_settings:\n  master_key: os.environ/TEST_MASTER\n" if keys else ""
    return f"""
model_list:
  - model_name: gpt-a
    litellm_params: {{model: openai/a, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY, input_cost_per_token: 0.001, output_cost_per_token: 0.002}}
  - model_name: gpt-b
    litellm_params: {{model: openai/b, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
router_settings:
  fallbacks: [{{"gpt-a": ["gpt-b"]}}]
{general}{settings}"""


ENV = {"TEST_OPENAI_KEY": OPENAI_KEY, "TEST_MASTER": MASTER}


class KeyedGateway:
    """A keyservice and a gateway asking it, rendered with a known admin port (so
    that `/metrics` appends Envoy's stats)."""

    def __init__(self, work: Path, config_text: str, concurrency: int = 1) -> None:
        harness.require_keyservice()
        self.ks = harness.Keyservice(work, master=MASTER).start()
        self.gw = harness.Gateway(
            config_text, ENV, workdir=work / "gw", concurrency=concurrency,
            extra_render_args=["--keyservice", f"127.0.0.1:{self.ks.port}",
                               "--admin-port", str(free_port())])

    def __enter__(self) -> "KeyedGateway":
        try:
            self.gw.start()
        except BaseException:
            self.ks.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.gw.stop()
        self.ks.stop()


def scrape(gw, key: str | None = None, path: str = "/metrics"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return harness.request_json("GET", gw.url(path), headers=headers)


def generate(gw, body: dict) -> str:
    status, _, made = harness.request_json(
        "POST", gw.url("/key/generate"), body, headers={"Authorization": f"Bearer {MASTER}"})
    assert status == 200, made
    SECRETS.extend([made["key"]])
    return made["key"]


SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(?P<labels>\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*,?)?\})?'
    r' (?P<value>[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|Inf|NaN))(?: -?[0-9]+)?$')


def strict_parse(text: str) -> dict[str, dict[str, float]]:
    """Text format 0.0.4, checked line by line: `# HELP`/`# TYPE` before a family's
    samples, each family's TYPE once, every sample well formed and unique. Returns
    {sample name: {label text: value}}."""
    assert text.endswith("\n"), "the last line ends with a newline"
    types: dict[str, str] = {}
    samples: dict[str, dict[str, float]] = {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert name not in types, f"line {n}: a second TYPE for {name}"
            assert kind in {"counter", "gauge", "histogram", "summary", "untyped"}, line
            types[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"line {n} is not a sample: {line!r}"
        name = m["name"]
        family = next((f for f in (name, re.sub(r"_(bucket|count|sum)$", "", name)) if f in types), None)
        assert family is not None, f"line {n}: {name} has no TYPE before it"
        series = samples.setdefault(name, {})
        labels = m["labels"] or ""
        assert labels not in series, f"line {n}: {name}{labels} twice"
        series[labels] = float(m["value"].replace("Inf", "inf"))
    return samples


def check_exposition(text: str) -> dict[str, dict[str, float]]:
    samples = strict_parse(text)
    # prometheus_client's own parser reads it too.
    names = {f.name for f in text_string_to_metric_families(text)}
    for family in FAMILIES:
        assert f"# TYPE {family} " in text, family
    assert "litellm_spend_metric" in names, names
    assert "switchyard_series_" not in text, "an internal stat leaked into /metrics"
    for secret in SECRETS:
        assert secret not in text, "a key appears in /metrics"
    return samples


@pytest.fixture(scope="module")
def mock():
    with OpenAIMock(api_key=OPENAI_KEY) as m:
        yield m


@pytest.fixture(scope="module")
def keyed(mock, tmp_path_factory):
    with KeyedGateway(tmp_path_factory.mktemp("metrics-keys"), config(mock, keys=True)) as k:
        yield k


def test_with_keys_metrics_need_a_valid_key(keyed):
    gw = keyed.gw
    status, _, body = scrape(gw)
    assert status == 401, body
    status, _, body = scrape(gw, "sk-not-a-real-key")
    assert status == 401, body
    key = generate(gw, {"models": ["gpt-b"], "key_alias": "scraper"})
    for who in (MASTER, key):
        for path in ("/metrics", "/metrics/"):
            status, headers, text = scrape(gw, who, path)
            assert status == 200, (path, text)
            assert headers["content-type"] == CONTENT_TYPE
            check_exposition(text)
    # A key limited to other models may read it too (LiteLLM: any valid key).
    status, _, _ = harness.request_json("POST", gw.url("/metrics"), headers={"Authorization": f"Bearer {key}"})
    assert status == 405


def test_scrapes_take_none_of_a_keys_limits(keyed, mock):
    # LiteLLM's rate limiter runs for LLM calls only: a Prometheus scraping with a
    # key limited to 1 request per minute never uses that request up.
    gw = keyed.gw
    key = generate(gw, {"rpm_limit": 1, "key_alias": "limited-scraper"})
    for _ in range(3):
        status, headers, text = scrape(gw, key)
        assert status == 200, text
        assert not any(h.startswith("x-ratelimit") for h in headers), headers
    assert chat(gw, "gpt-b", key) == 200
    assert chat(gw, "gpt-b", key) == 429


def test_envoys_stats_come_with_ours(keyed):
    status, _, text = scrape(keyed.gw, MASTER)
    assert status == 200, text
    samples = check_exposition(text)
    envoy = [name for name in samples if name.startswith("envoy_")]
    assert "envoy_server_live" in samples, sorted(samples)[:20]
    assert len(envoy) > 20, envoy
    # Ours first, then Envoy's.
    assert text.index("# HELP litellm_proxy_total_requests_metric_total") < text.index("envoy_server_live")


def test_metrics_can_be_opened_without_a_key(mock, tmp_path):
    settings = "litellm_settings:\n  require_auth_for_metrics_endpoint: false\n"
    with KeyedGateway(tmp_path, config(mock, keys=True, settings=settings)) as k:
        status, _, text = scrape(k.gw)
        assert status == 200, text
        check_exposition(text)
        # Only /metrics: an LLM call still needs a key.
        status, _, body = harness.request_json(
            "POST", k.gw.url("/v1/chat/completions"),
            {"model": "gpt-a", "messages": [{"role": "user", "content": "hi"}]})
        assert status == 401, body


def test_without_keys_metrics_are_open(mock, tmp_path):
    # Rendered with the admin port left to Envoy: our families alone.
    with harness.Gateway(config(mock, keys=False), ENV, workdir=tmp_path) as gw:
        status, headers, text = scrape(gw)
        assert status == 200, text
        assert headers["content-type"] == CONTENT_TYPE
        check_exposition(text)
        assert "envoy_" not in text


def test_prometheus_metrics_config_is_applied(mock, tmp_path):
    settings = """litellm_settings:
  prometheus_metrics_config:
    - group: usage
      metrics: [litellm_proxy_total_requests_metric, litellm_spend_metric]
      include_labels: [requested_model, end_user]
"""
    with harness.Gateway(config(mock, keys=False, settings=settings), ENV, workdir=tmp_path) as gw:
        status, _, text = scrape(gw)
        assert status == 200, text
        families = {f.name for f in text_string_to_metric_families(text)}
        assert families == {"litellm_proxy_total_requests_metric", "litellm_spend_metric"}, families


# --- after the record assembly is merged ------------------------------------------------

def chat(gw, model: str, key: str, stream: bool = False, user: str | None = None):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if user:
        body["user"] = user
    headers = {"Authorization": f"Bearer {key}"}
    if stream:
        with harness.open_stream("POST", gw.url("/v1/chat/completions"), body, headers=headers) as resp:
            assert resp.status == 200
            resp.read()
        return 200
    status, _, answer = harness.request_json("POST", gw.url("/v1/chat/completions"), body, headers=headers)
    return status


def value(samples: dict[str, dict[str, float]], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include every `labels` pair."""
    total = 0.0
    for text, v in samples.get(name, {}).items():
        if all(f'{k}="{val}"' in text for k, val in labels.items()):
            total += v
    return total


@pytest.fixture(scope="module")
def sequence(mock, tmp_path_factory):
    """Two Envoy workers; two keys; a success, a provider error the client gets, a
    stream, and a fallback (gpt-a fails with 500, gpt-b serves it)."""
    work = tmp_path_factory.mktemp("metrics-sequence")
    with KeyedGateway(work, config(mock, keys=True), concurrency=2) as k:
        gw = k.gw
        alice = generate(gw, {"key_alias": "alice"})
        bob = generate(gw, {"key_alias": "bob"})
        mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}
        try:
            for _ in range(3):
                assert chat(gw, "gpt-b", alice) == 200
            mock.fail_next(n=None, status=400)
            assert chat(gw, "gpt-b", bob) == 400
            mock.clear_faults()
            assert chat(gw, "gpt-b", bob, stream=True) == 200
            # Every attempt on gpt-a fails: the fallback group serves it.
            mock.fail_next(n=3, status=500)
            assert chat(gw, "gpt-a", alice) == 200
            mock.clear_faults()
        finally:
            mock.usage = {}
        yield k, alice, bob


def test_a_known_sequence_gives_exact_counts_across_two_workers(sequence):
    k, _, _ = sequence
    # The counts are final once every request was logged: poll for them.
    def counted():
        status, _, text = scrape(k.gw, MASTER)
        assert status == 200, text
        return check_exposition(text)
    samples = poll(counted, lambda s: value(s, "litellm_proxy_total_requests_metric_total") >= 6)
    total = "litellm_proxy_total_requests_metric_total"
    assert value(samples, total) == 6
    assert value(samples, total, api_key_alias="alice", status_code="200") == 4
    assert value(samples, total, api_key_alias="bob", status_code="200") == 1
    assert value(samples, total, api_key_alias="bob", status_code="400") == 1
    failed = "litellm_proxy_failed_requests_metric_total"
    assert value(samples, failed) == 1
    assert value(samples, failed, exception_status="400", requested_model="gpt-b") == 1
    assert value(samples, "litellm_input_tokens_metric_total") == 50
    assert value(samples, "litellm_output_tokens_metric_total") == 25
    assert value(samples, "litellm_total_tokens_metric_total", api_key_alias="alice") == 60
    assert value(samples, "litellm_spend_metric_total", api_key_alias="alice", requested_model="gpt-a") == 0
    assert value(samples, "litellm_deployment_failure_responses_total", requested_model="gpt-a", exception_status="500") >= 1
    assert value(samples, "litellm_deployment_successful_fallbacks_total", requested_model="gpt-a", fallback_model="gpt-b") == 1
    assert value(samples, "litellm_llm_api_time_to_first_token_metric_count") == 1
    assert value(samples, "litellm_request_total_latency_metric_count") == 5


@contextmanager
def prometheus(tmp_path: Path, gw, key: str):
    """Debian's Prometheus on a free port, scraping the gateway's `/metrics` every
    second with `key` as its bearer token (as LiteLLM's prometheus.yml does); yields a
    PromQL query function (its result list, or None while it cannot answer)."""
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus is missing: source scripts/setup.sh; ensure_prometheus"
    port = free_port()
    target = urllib.parse.urlsplit(gw.base_url).netloc
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: switchyard
    metrics_path: /metrics
    authorization: {{credentials: {key}}}
    static_configs: [{{targets: ["{target}"]}}]
""")
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def query(q: str):
        url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(q)}"
        try:
            status, _, body = harness.request_json("GET", url)
        except OSError:
            return None
        return body["data"]["result"] if status == 200 and isinstance(body, dict) else None

    try:
        up = poll(lambda: query('up{job="switchyard"}'),
                  lambda r: bool(r) and r[0]["value"][1] == "1", timeout=30)
        assert up and up[0]["value"][1] == "1", (up, (tmp_path / "prometheus.log").read_text()[-2000:])
        yield query
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_a_real_prometheus_scrapes_the_gateway_with_a_key(keyed, tmp_path):
    key = generate(keyed.gw, {"key_alias": "prometheus"})
    with prometheus(tmp_path, keyed.gw, key) as query:
        live = poll(lambda: query("envoy_server_live"), lambda r: bool(r), timeout=10)
        assert live and live[0]["value"][1] == "1", live
        # No internal series reached it.
        internal = query('{__name__=~".*switchyard_series_.*"}')
        assert internal == [], internal


def test_promql_over_a_known_sequence(sequence, tmp_path):
    k, alice, _ = sequence
    with prometheus(tmp_path, k.gw, alice) as query:
        total = poll(lambda: query("sum(litellm_proxy_total_requests_metric_total)"),
                     lambda r: bool(r) and float(r[0]["value"][1]) >= 6, timeout=30)
        assert total and float(total[0]["value"][1]) == 6, total
        tokens = query('sum(litellm_total_tokens_metric_total{api_key_alias="alice"})')
        assert tokens and float(tokens[0]["value"][1]) == 60, tokens


# --- the Grafana dashboard kept in docs/ ------------------------------------------------

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"
#: A metric name in a PromQL expression (ours and Envoy's).
METRIC_TOKEN = re.compile(r"\b((?:litellm|envoy)_[a-z0-9_]+)\b")
#: The label names a `by (...)` groups on.
BY_CLAUSE = re.compile(r"\bby\s*\(([^)]*)\)")


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert exprs, "the dashboard has no queries"
    return exprs


def test_the_grafana_dashboard_queries_what_the_gateway_exports(keyed):
    """Every metric a panel of docs/grafana-dashboard.json queries is one the gateway
    serves at /metrics (ours, declared with the type its suffix needs — `_total` for
    a counter, `_bucket`/`_sum`/`_count` for a histogram — or Envoy's own), and every
    label a panel groups by is one that metric's samples carry."""
    gw = keyed.gw
    # gpt-b: the module's other tests leave gpt-a failing (the mock's fault setting).
    status, _, answer = harness.request_json(
        "POST", gw.url("/v1/chat/completions"),
        {"model": "gpt-b", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {MASTER}"})
    assert status == 200, answer
    assert chat(gw, "gpt-b", MASTER, stream=True) == 200
    text = poll(lambda: scrape(gw, MASTER)[2],
                lambda t: 'litellm_proxy_total_requests_metric_total{' in t, timeout=10)
    declared = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    sample_labels: dict[str, set[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", line)
        if m and not line.startswith("#"):
            names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(2) or ""))
            sample_labels.setdefault(m.group(1), set()).update(names)

    def family_of(token: str) -> str | None:
        # A counter's TYPE line names its `_total` form (prometheus_client's text
        # format 0.0.4, as LiteLLM's /metrics); a gauge and Envoy's stats their name.
        kind = declared.get(token)
        if kind == "counter":
            return token if token.endswith("_total") or token.startswith("envoy_") else None
        if kind == "gauge":
            return token
        for suffix in ("_bucket", "_sum", "_count"):
            base = token[: -len(suffix)]
            if token.endswith(suffix) and declared.get(base) == "histogram":
                return base
        return None

    checked = 0
    for expr in dashboard_queries():
        tokens = METRIC_TOKEN.findall(BY_CLAUSE.sub("", expr))
        assert tokens, f"a panel queries no metric: {expr}"
        for token in tokens:
            assert family_of(token), f"{token} (in {expr!r}) is not exported as its suffix says"
            checked += 1
        grouped = {label.strip() for clause in BY_CLAUSE.findall(expr)
                   for label in clause.split(",") if label.strip() and label.strip() != "le"}
        seen = set().union(*(sample_labels.get(t, set()) for t in tokens))
        if seen:  # a family with samples: its labels are known
            missing = grouped - seen
            assert not missing, f"{expr!r} groups by {missing}, which {tokens} do not carry"
    assert checked >= 20, checked


# --- budget gauges ----------------------------------------------------------------------

#: What a client might send to fake a budget: the keyservice's own header names.
FORGED_BUDGET_HEADERS = {
    "x-switchyard-key-spend": "0",
    "x-switchyard-key-max-budget": "1000000",
    "x-switchyard-team-spend": "0",
    "x-switchyard-team-max-budget": "1000000",
}


def admin(gw, method: str, path: str, body: dict | None = None):
    return harness.request_json(method, gw.url(path), body,
                                headers={"Authorization": f"Bearer {MASTER}"})


def test_budget_gauges_follow_the_keys_and_teams_spend_and_a_client_cannot_forge_them(keyed, mock):
    """LiteLLM's `_set_key_budget_metrics` / `_set_team_budget_metrics`: after each
    successful call, remaining = max_budget - (spend at admission + the call's cost);
    a team without max_budget is +Inf and has no max-budget series. A client sending
    the keyservice's budget headers itself changes nothing."""
    gw = keyed.gw
    status, _, team = admin(gw, "POST", "/team/new",
                            {"team_alias": "Budget Team", "max_budget": 50})
    assert status == 200, team
    team_id = team["team_id"]
    status, _, open_team = admin(gw, "POST", "/team/new", {"team_alias": "Open Team"})
    assert status == 200, open_team
    carol = generate(gw, {"key_alias": "carol", "max_budget": 10, "team_id": team_id})
    dave = generate(gw, {"key_alias": "dave", "team_id": open_team["team_id"]})
    # gpt-a costs 10 * 0.001 + 5 * 0.002 = 0.02 USD a call.
    mock.usage = {"prompt_tokens": 10, "completion_tokens": 5}
    try:
        def call(key: str, headers: dict[str, str] | None = None) -> None:
            body = {"model": "gpt-a", "messages": [{"role": "user", "content": "hi"}]}
            status, _, answer = harness.request_json(
                "POST", gw.url("/v1/chat/completions"), body,
                headers={"Authorization": f"Bearer {key}", **(headers or {})})
            assert status == 200, answer

        def spend_of(key: str) -> float:
            return admin(gw, "GET", f"/key/info?key={key}")[2]["info"]["spend"]

        call(carol)
        # Wait for the first call's spend to reach the keyservice, so the second
        # call is admitted with spend 0.02.
        assert poll(lambda: spend_of(carol), lambda s: s > 0) == pytest.approx(0.02)
        call(carol, FORGED_BUDGET_HEADERS)
        call(dave, FORGED_BUDGET_HEADERS)
        assert not any(h.lower() in FORGED_BUDGET_HEADERS for h in mock.last_request.headers)

        def gauges():
            status, _, text = scrape(gw, MASTER)
            assert status == 200, text
            return check_exposition(text)
        remaining_key = "litellm_remaining_api_key_budget_metric"
        samples = poll(gauges, lambda s: value(s, remaining_key, api_key_alias="carol")
                       == pytest.approx(10 - 0.04))
    finally:
        mock.usage = {}
    assert value(samples, remaining_key, api_key_alias="carol") == pytest.approx(9.96)
    assert value(samples, "litellm_api_key_max_budget_metric", api_key_alias="carol") == 10
    # Carol's team: 50 - (0.02 + 0.02) after her second call.
    assert value(samples, "litellm_remaining_team_budget_metric",
                 team=team_id, team_alias="Budget Team") == pytest.approx(49.96)
    assert value(samples, "litellm_team_max_budget_metric", team=team_id) == 50
    # Dave: no key budget, a team without one: +Inf, and no max-budget series.
    assert value(samples, remaining_key, api_key_alias="dave") == float("inf")
    assert value(samples, "litellm_remaining_team_budget_metric",
                 team=open_team["team_id"]) == float("inf")
    assert not any("dave" in labels for labels in samples.get("litellm_api_key_max_budget_metric", {}))
    assert not any(open_team["team_id"] in labels
                   for labels in samples.get("litellm_team_max_budget_metric", {}))
    # One series per key and per team, labelled by the scope alone.
    carol_series = [l for l in samples[remaining_key] if 'api_key_alias="carol"' in l]
    assert len(carol_series) == 1 and carol_series[0].count("=") == 2, carol_series


# --- cooldowns ----------------------------------------------------------------------------

def post_chat(gw, model: str, headers: dict[str, str] | None = None) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    status, _, _ = harness.request_json(
        "POST", gw.url("/v1/chat/completions"), body,
        headers={"Authorization": "Bearer sk-any", **(headers or {})})
    return status


def envoy_stat_sum(gw, suffix: str) -> int:
    status, text = harness._http_get(f"{gw.admin_url}/stats?filter={suffix}")
    assert status == 200, text
    return sum(int(line.rsplit(": ", 1)[1]) for line in text.splitlines()
               if line.split(": ", 1)[0].endswith(suffix))


def test_a_deployment_cooled_down_by_envoy_is_counted_once(mock, tmp_path):
    """`allowed_fails` consecutive 500s from one deployment: Envoy ejects it (its
    own per-cluster `ejections_enforced_total` says 1), and /metrics counts one
    `litellm_deployment_cooled_down` for that deployment, with state 2."""
    allowed_fails = 2
    with OpenAIMock(api_key=OPENAI_KEY) as down:
        text = f"""
model_list:
  - model_name: cool
    litellm_params: {{model: openai/a, api_base: "{down.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
    model_info: {{id: dep-down}}
  - model_name: cool
    litellm_params: {{model: openai/b, api_base: "{mock.base_url}", api_key: os.environ/TEST_OPENAI_KEY}}
    model_info: {{id: dep-up}}
router_settings:
  num_retries: 0
  allowed_fails: {allowed_fails}
  cooldown_time: 60
"""
        down.fail_next(None, 500)  # type: ignore[arg-type]
        with harness.Gateway(text, ENV, workdir=tmp_path,
                             extra_render_args=["--admin-port", str(free_port())]) as gw:
            for _ in range(60):
                assert post_chat(gw, "cool") in (200, 500)
                if down.request_count >= allowed_fails:
                    break
            assert down.request_count == allowed_fails
            # Envoy ejected it: later requests all go to dep-up.
            for _ in range(5):
                assert post_chat(gw, "cool") == 200
            assert down.request_count == allowed_fails
            assert envoy_stat_sum(gw, "outlier_detection.ejections_enforced_total") == 1

            cooled = "litellm_deployment_cooled_down_total"
            def counted():
                status, _, body = scrape(gw)
                assert status == 200, body
                return check_exposition(body)
            samples = poll(counted, lambda s: value(s, cooled) >= 1)
            assert value(samples, cooled) == 1
            assert value(samples, cooled, model_id="dep-down", litellm_model_name="cool",
                         api_provider="openai", exception_status="500") == 1
            assert value(samples, "litellm_deployment_state", model_id="dep-down",
                         litellm_model_name="cool") == 2
            assert value(samples, "litellm_deployment_failure_responses_total",
                         model_id="dep-down") == allowed_fails


# --- client_ip and user_agent -------------------------------------------------------------

def test_client_ip_and_user_agent_are_labels_when_included(mock, tmp_path):
    settings = """litellm_settings:
  prometheus_metrics_config:
    - group: clients
      metrics: [litellm_proxy_total_requests_metric, litellm_deployment_total_requests]
      include_labels: [requested_model, client_ip, user_agent]
"""
    with harness.Gateway(config(mock, keys=False, settings=settings), ENV, workdir=tmp_path) as gw:
        assert post_chat(gw, "gpt-b", {"User-Agent": "switchyard-test/1.0"}) == 200
        assert post_chat(gw, "gpt-b", {"User-Agent": "other-agent",
                                       "X-Forwarded-For": "203.0.113.9"}) == 200
        total = "litellm_proxy_total_requests_metric_total"
        def counted():
            status, _, body = scrape(gw)
            assert status == 200, body
            return strict_parse(body)
        samples = poll(counted, lambda s: value(s, total) >= 2)
        assert value(samples, total, client_ip="127.0.0.1", user_agent="switchyard-test/1.0",
                     requested_model="gpt-b") == 1
        assert value(samples, "litellm_deployment_total_requests_total", client_ip="127.0.0.1",
                     user_agent="switchyard-test/1.0") == 1
        # client_ip is Envoy's downstream remote address. As rendered, the connection
        # manager does not set `use_remote_address`, so Envoy takes the last
        # `x-forwarded-for` address as the remote address (LiteLLM's default reads
        # the TCP peer): the label follows Envoy.
        assert value(samples, total, client_ip="203.0.113.9", user_agent="other-agent") == 1
