"""Fixtures for the user-journey tier (see user.py): a project directory of the
user's own, and ``./switchyard up`` runs that are stopped with Ctrl-C at the end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator, Mapping

import pytest

_HERE = Path(__file__).resolve().parent
for path in (str(_HERE), str(_HERE.parent)):  # user.py here; mocks/ one level up
    if path not in sys.path:
        sys.path.insert(0, path)

from mocks import OPENAI_KEY, OpenAIMock  # noqa: E402
from user import Up  # noqa: E402


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The user's project directory (where config.yaml lives and `up` is run)."""
    return tmp_path


@pytest.fixture
def up(project: Path) -> Iterator[Callable[..., Up]]:
    """``up(args, env=None, wait=True)`` runs ``./switchyard ARGS`` in the project
    directory; waits until it says it is up (unless ``wait=False``); every run is
    stopped with Ctrl-C when the test ends, and must leave no process behind."""
    runs: list[Up] = []

    def start(args: list[str], env: Mapping[str, str] | None = None, wait: bool = True) -> Up:
        run = Up(args, project, env)
        runs.append(run)
        if wait:
            run.wait_up()
        return run

    yield start
    errors = []
    for run in runs:
        try:
            run.stop()
        except AssertionError as err:
            errors.append(str(err))
    assert not errors, "\n".join(errors)


@pytest.fixture
def openai_mock() -> Iterator[OpenAIMock]:
    """An OpenAI mock on 127.0.0.1 (key ``mocks.OPENAI_KEY``): the user's provider."""
    with OpenAIMock(api_key=OPENAI_KEY) as mock:
        yield mock
