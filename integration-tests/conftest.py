"""pytest fixtures for the integration tests.

Mock providers (function-scoped, started before and stopped after each test):

* ``openai_mock``    — :class:`mocks.OpenAIMock`, key ``mocks.OPENAI_KEY``, prefix ``/v1``;
* ``azure_mock``     — :class:`mocks.AzureMock`, key ``mocks.AZURE_KEY``, deployments
  ``mocks.AZURE_DEPLOYMENTS`` (change ``azure_mock.deployments`` in a test as needed);
* ``anthropic_mock`` — :class:`mocks.AnthropicMock`, key ``mocks.ANTHROPIC_KEY``.

The gateway:

* ``gateway_factory(config_yaml, env=None, **kwargs)`` renders and starts a
  :class:`harness.Gateway` (kwargs go to its constructor), returns it started,
  and stops every gateway it made when the test ends. When a test fails, the
  tail of each gateway's Envoy log is printed (pytest shows it with the failure).
* ``start_failure(config_yaml, env=None, **kwargs)`` expects the gateway not to
  start and returns the combined render + Envoy output.

Providers with a gateway of their own (the rows of :data:`conformance.CONFORMANCE`):

* ``provider_stacks(name)`` (session-scoped) returns the gateway group's
  :class:`conformance.ProviderStack` (``.mocks``, ``.mock``, ``.gateway``), started
  the first time a test asks for it and stopped after the last test that uses
  ``provider_stacks`` (or when the session ends), so that
  ``test_conformance.py`` and the provider's own ``test_<provider>.py`` share one
  mock and one Envoy.

Both skip the test when Envoy, the switchyard CLI or the filter .wasm is
missing — unless ``SWITCHYARD_REQUIRE_GATEWAY=1`` (CI), which turns the skip
into a failure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

# harness and mocks live next to this file; make them importable in any import mode.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import conformance  # noqa: E402
import harness  # noqa: E402
from mocks import (  # noqa: E402
    ANTHROPIC_KEY,
    AZURE_DEPLOYMENTS,
    AZURE_KEY,
    OPENAI_KEY,
    AnthropicMock,
    AzureMock,
    OpenAIMock,
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    # Keep each phase's report on the item so fixtures can tell whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _require_gateway_prerequisites() -> None:
    missing = harness.missing_prerequisites()
    if not missing:
        return
    message = "gateway prerequisites missing: " + "; ".join(missing)
    if os.environ.get("SWITCHYARD_REQUIRE_GATEWAY") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def openai_mock() -> Iterator[OpenAIMock]:
    with OpenAIMock(api_key=OPENAI_KEY) as mock:
        yield mock


@pytest.fixture
def azure_mock() -> Iterator[AzureMock]:
    with AzureMock(api_key=AZURE_KEY, deployments=dict(AZURE_DEPLOYMENTS)) as mock:
        yield mock


@pytest.fixture
def anthropic_mock() -> Iterator[AnthropicMock]:
    with AnthropicMock(api_key=ANTHROPIC_KEY) as mock:
        yield mock


@pytest.fixture
def gateway_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., harness.Gateway]]:
    _require_gateway_prerequisites()
    started: list[harness.Gateway] = []

    def make(config_yaml: str, env: dict[str, str | None] | None = None,
             **kwargs: Any) -> harness.Gateway:
        kwargs.setdefault("workdir", tmp_path_factory.mktemp("gateway"))
        gw = harness.Gateway(config_yaml, env, **kwargs)
        started.append(gw)
        return gw.start()

    yield make

    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    for gw in started:
        gw.stop()
        if not failed:
            continue
        if gw.render_output.strip():
            print(f"\n--- gateway #{gw.instance} switchyard render output ---")
            print(harness._tail(gw.render_output))
        if gw.log_path.exists():
            print(f"\n--- gateway #{gw.instance} envoy log tail ({gw.log_path}) ---")
            print(harness._tail(gw.log_text()))


@pytest.fixture
def start_failure(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    _require_gateway_prerequisites()

    def expect_failure(config_yaml: str, env: dict[str, str | None] | None = None,
                       **kwargs: Any) -> str:
        kwargs.setdefault("workdir", tmp_path_factory.mktemp("gateway-failure"))
        return harness.start_failure(config_yaml, env, **kwargs)

    return expect_failure


#: The started conformance groups by name (see ``provider_stacks``).
_STACKS: dict[str, conformance.ProviderStack] = {}
#: The last test that uses ``provider_stacks``: the groups stop after it, as a
#: module-scoped gateway stopped after its module.
_LAST_STACK_USER: list[pytest.Item] = []


#: Modules whose tests share no module- or session-scoped fixture and are many and
#: slow: under pytest-xdist their tests are spread over this many groups.
_SPREAD_MODULES = {"test_journey_docs.py": 4}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    users = [item for item in items if "provider_stacks" in getattr(item, "fixturenames", ())]
    _LAST_STACK_USER[:] = users[-1:]
    # scripts/test runs this tier with pytest-xdist (`-n auto --dist loadgroup`): one
    # group per module, so a module's gateways (module-scoped fixtures) start once, on
    # one worker; a long module of independent tests is split so it is not the tail.
    counters: dict[str, int] = {}
    for item in items:
        module = item.path.name
        group = str(item.path)
        spread = _SPREAD_MODULES.get(module)
        if spread:
            index = counters.get(group, 0)
            counters[group] = index + 1
            group = f"{group}#{index % spread}"
        item.add_marker(pytest.mark.xdist_group(group))


def _stop_stacks() -> None:
    while _STACKS:
        _, started = _STACKS.popitem()
        started.stop()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _LAST_STACK_USER and item is _LAST_STACK_USER[0]:
        _stop_stacks()


@pytest.fixture(scope="session")
def provider_stacks(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], conformance.ProviderStack]]:
    def stack(name: str) -> conformance.ProviderStack:
        if name not in _STACKS:
            group = conformance.group(name)
            _STACKS[name] = conformance.ProviderStack(group, tmp_path_factory.mktemp(name)).start()
        return _STACKS[name]

    yield stack
    _stop_stacks()
