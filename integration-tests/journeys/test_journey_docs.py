"""Every config in LiteLLM's proxy documentation, started as a LiteLLM user would.

``litellm-docs/`` holds the config.yaml examples of LiteLLM's docs, one file each
(``litellm-docs/README.md``; the header of each file names its page and section and
says what, if anything, differs from the page). For each one, with only the
environment variables the file names (its ``os.environ/NAME`` values, and the
``# Environment:`` line for the provider variables the page tells users to export):

* ``./switchyard check --config FILE`` passes and needs no other variable;
* ``./switchyard up --config FILE --port N`` starts, ``/v1/models`` (with the master
  key when keys are on) lists exactly the groups of the ``# Serves:`` line, and
  Ctrl-C stops everything;
* ``./switchyard render`` prints "Envoy's environment: …", and ``envoy --mode
  validate`` passes on the rendered bootstrap with exactly that environment (``env
  -i`` plus those names, plus ``PATH``), and fails, naming the variable, without one
  of them.

No test sends traffic to a provider: the configs name real provider hosts, so the
gateway is only started and asked for its models. A config that needs PostgreSQL
(``database_url``) is started against the test PostgreSQL instead of the docs'
``db:5432``, or not started when there is none (``check`` and ``render`` still run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import request_json
from user import ROOT, free_port, switchyard

CORPUS_DIR = Path(__file__).resolve().parent / "litellm-docs"
# One file per config; a config that includes others lives in its own directory as
# config.yaml, next to the files it includes.
CORPUS = sorted(CORPUS_DIR.glob("*.yaml")) + sorted(CORPUS_DIR.glob("*/config.yaml"))
ENVOY = ROOT / ".venv" / "bin" / "envoy"
# The tests' own service-account key (also used by test_vertex.py).
GOOGLE_TEST_KEY = ROOT / "filter" / "src" / "testdata" / "google_test_key.pem"
MASTER = "sk-docs-journey-master"
POSTGRES = os.environ.get("SWITCHYARD_TEST_POSTGRES_URL")  # test plumbing: scripts/test starts it

ENV_REF = re.compile(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)")
ENV_LINE = re.compile(r"^# Environment:\s*([A-Z0-9_ ]+)", re.M)
SERVES_LINE = re.compile(r"^# Serves:\s*(.*)$", re.M)
MASTER_KEY = re.compile(r"^\s*master_key:\s*\"?([^\"\s#]+)", re.M)
DATABASE_URL = re.compile(r"^(\s*database_url:\s*)(\"?[^\"\s#]+\"?)", re.M)
ENVOY_ENV_LINE = re.compile(r"^Envoy's environment: (.*?) \(", re.M)
WILL_READ_LINE = re.compile(r"environment variables the gateway will read: (.*)")


@dataclass
class DocConfig:
    """One corpus config and what its header and text say."""

    path: Path
    text: str
    env_names: list[str]
    serves: set[str]
    database_url: bool
    master_key_ref: str | None

    @property
    def id(self) -> str:
        return str(self.path.relative_to(CORPUS_DIR))


def read_corpus(path: Path) -> DocConfig:
    text = path.read_text()
    sources = [text]
    if path.parent != CORPUS_DIR:  # a config with the files it includes, which name variables too
        sources += [p.read_text() for p in path.parent.glob("*.yaml") if p != path]
    names = {name for source in sources for name in ENV_REF.findall(source)}
    for line in ENV_LINE.findall(text):
        names.update(line.split())
    serves = SERVES_LINE.search(text)
    assert serves, f"{path.name}: no '# Serves:' line"
    listed = serves.group(1).split(" (")[0].split()
    master = MASTER_KEY.search(text)
    return DocConfig(
        path=path,
        text=text,
        env_names=sorted(names),
        serves=set() if listed == ["nothing"] else set(listed),
        database_url=DATABASE_URL.search(text) is not None,
        master_key_ref=master.group(1) if master else None,
    )


def placeholder(name: str, project: Path) -> str:
    """A value a user might set for ``name``; addresses stay on 127.0.0.1 (HTTPS, as
    the cloud endpoints these variables name are)."""
    if "API_BASE" in name or name.endswith("_URL") or "ENDPOINT" in name:
        return "https://127.0.0.1:9"
    if name.endswith("_PORT"):
        return "6379"
    if "CREDENTIALS" in name or "FILE_PATH" in name:
        return str(service_account(project))
    if "MASTER_KEY" in name:
        return MASTER
    return f"placeholder-{name.lower()}"


def service_account(project: Path) -> Path:
    """A service-account key file whose token endpoint is on 127.0.0.1 (unreachable)."""
    path = project / "service-account.json"
    if not path.exists():
        path.write_text(json.dumps({
            "type": "service_account",
            "project_id": "docs-journey",
            "private_key_id": "docs-journey-key",
            "private_key": GOOGLE_TEST_KEY.read_text(),
            "client_email": "gateway@docs-journey.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": "http://127.0.0.1:9/token",
        }))
    return path


def user_environment(doc: DocConfig, project: Path) -> dict[str, str]:
    return {name: placeholder(name, project) for name in doc.env_names}


def master_key(doc: DocConfig, env: dict[str, str]) -> str | None:
    """The master key in effect: the config's (literal or os.environ/), else
    LITELLM_MASTER_KEY. (claude_responses_api.md writes it under litellm_settings,
    where it does nothing, as `os.environ/LITELLM_MASTER_KEY`: the same key.)"""
    ref = doc.master_key_ref
    if ref is not None:
        return env[ref.removeprefix("os.environ/")] if ref.startswith("os.environ/") else ref
    return env.get("LITELLM_MASTER_KEY")


def keys_on(doc: DocConfig, env: dict[str, str]) -> bool:
    return master_key(doc, env) is not None or doc.database_url or "DATABASE_URL" in env


def corpus_param(path: Path):
    name = str(path.relative_to(CORPUS_DIR))
    return pytest.param(path, id=name)


def started_param(path: Path):
    """As corpus_param, for the tests that need Envoy to accept the rendered config."""
    return corpus_param(path)


@pytest.fixture
def doc(request) -> DocConfig:
    return read_corpus(request.param)


def test_corpus_covers_the_docs():
    """The corpus is what the README promises: at least 30 configs, each with its
    source in the header."""
    assert len(CORPUS) >= 30
    for path in CORPUS:
        head = path.read_text().split("\n", 3)
        assert head[0].startswith("# Source: BerriAI/litellm docs/my-website/docs/"), path.name


@pytest.mark.parametrize("doc", [corpus_param(p) for p in CORPUS], indirect=True)
def test_check_passes_with_the_named_variables(doc, project):
    env = user_environment(doc, project)
    result = switchyard(["check", "--config", str(doc.path)], project, env)
    assert result.returncode == 0, f"{doc.id}:\n{result.stderr}\n{result.stdout}"
    assert "error:" not in result.stderr, result.stderr
    # Everything the gateway will read is among the variables the file names.
    will_read = WILL_READ_LINE.search(result.stdout)
    if will_read:
        assert "(not set here)" not in will_read.group(1), (
            f"{doc.id} needs more than it names: {will_read.group(1)}")


@pytest.mark.parametrize("doc", [started_param(p) for p in CORPUS], indirect=True)
def test_up_serves_the_documented_models(doc, project, up):
    env = user_environment(doc, project)
    config = doc.path
    if doc.database_url:
        if not POSTGRES:
            pytest.skip("needs the PostgreSQL that scripts/test starts (database_url)")
        # The docs' database (db:5432, a compose service) becomes the test's.
        config = project / "config.yaml"
        config.write_text(DATABASE_URL.sub(lambda m: f"{m.group(1)}\"{POSTGRES}\"", doc.text))
    run = up(["up", "--config", str(config), "--port", str(free_port())], env)
    key = master_key(doc, env)
    headers = {"Authorization": f"Bearer {key}"} if keys_on(doc, env) else {}
    status, _, body = request_json("GET", f"{run.url}/v1/models", headers=headers)
    assert status == 200, f"{doc.id}: {body}\n{run.output()}"
    assert {m["id"] for m in body["data"]} == doc.serves, f"{doc.id}: {body}"
    if keys_on(doc, env):
        status, _, body = request_json("GET", f"{run.url}/v1/models")
        assert status == 401, f"{doc.id}: keys are on, yet /v1/models answered {status}: {body}"


@pytest.mark.parametrize("doc", [started_param(p) for p in CORPUS], indirect=True)
def test_render_names_envoys_whole_environment(doc, project):
    env = user_environment(doc, project)
    out = project / "rendered"
    args = ["render", "--config", str(doc.path), "--out", str(out)]
    if keys_on(doc, env):
        args += ["--keyservice", "127.0.0.1:9"]  # render cannot start one
    result = switchyard(args, project, env)
    assert result.returncode == 0, f"{doc.id}:\n{result.stderr}"
    line = ENVOY_ENV_LINE.search(result.stderr)
    assert line, f"{doc.id}: no \"Envoy's environment\" line in:\n{result.stderr}"
    names = [] if line.group(1) == "nothing" else line.group(1).split()
    assert set(names) <= set(env), f"{doc.id}: Envoy needs {names}, the file names {sorted(env)}"

    bootstrap = out / "envoy.yaml"
    exact = {name: env[name] for name in names}
    missing = names[0] if names else None
    short = {k: v for k, v in exact.items() if k != missing}
    # Both validations at once: each compiles the filter, the slow part.
    results = envoy_validate(bootstrap, [exact, short] if missing else [exact])
    ok = results[0]
    assert ok.returncode == 0, f"{doc.id} with {sorted(exact)}:\n{envoy_errors(ok.stdout)}"
    if missing:
        failed = results[1]
        assert failed.returncode != 0, f"{doc.id}: Envoy validated without {missing}"
        assert missing in envoy_errors(failed.stdout), (
            f"{doc.id}: the failure does not name {missing}:\n{envoy_errors(failed.stdout)}")


def envoy_errors(output: str) -> str:
    """Envoy's error and critical log lines (its validate output also dumps the config)."""
    lines = [line for line in output.splitlines() if re.search(r"\[(error|critical)\]", line)]
    return "\n".join(lines) or output[:3000]


def envoy_validate(bootstrap: Path, envs: list[dict[str, str]]) -> list[subprocess.CompletedProcess[str]]:
    """``env -i PATH=… NAME=… envoy --mode validate -c BOOTSTRAP`` once per
    environment, all at the same time (output merged)."""
    command = [str(ENVOY), "--mode", "validate", "-c", str(bootstrap), "--log-level", "warn"]
    runs = [subprocess.Popen(command, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for env in envs]
    results = []
    for run in runs:
        try:
            out, _ = run.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            run.kill()
            out, _ = run.communicate()
        results.append(subprocess.CompletedProcess(command, run.returncode, out))
    return results
