"""The user-journey tier: the gateway started exactly as the README tells users to.

Every journey runs the repository's own ``./switchyard`` script (which builds what is
missing, then runs the command) from a directory of the user's own, with an
environment a user would have: ``PATH``, ``HOME`` and the variables the test names
(``LITELLM_MASTER_KEY``, ``DATABASE_URL``, ``OPENAI_API_KEY``, …). Nothing named
``SWITCHYARD_*`` and no ``ENVOY_BIN`` reaches the command unless the README documents
it for users: :data:`USER_VISIBLE` is that list, and :func:`user_env` refuses anything
else with a ``SWITCHYARD_`` prefix, so a journey cannot quietly work around the product.

* :func:`switchyard` runs a command to completion (``check``, ``render``, ``up --test``).
* :class:`Up` runs ``switchyard up …`` in the background, waits for the line that says
  it is up, and stops it the way a user does (Ctrl-C, i.e. SIGINT).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Mapping

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "switchyard"

# The config most LiteLLM examples start from: one OpenAI model (``base`` is the
# provider's address, here a mock's), its key from OPENAI_API_KEY.
ONE_OPENAI_MODEL = """model_list:
  - model_name: gpt-3.5-turbo
    litellm_params:
      model: openai/gpt-3.5-turbo
      api_base: {base}
      api_key: os.environ/OPENAI_API_KEY
"""

# Variables a user may set because the README tells them to (none today).
USER_VISIBLE: frozenset[str] = frozenset()

# The environment every user has; everything else must be named by the test.
_BASE_VARS = ("PATH", "HOME", "LANG", "USER", "TERM", "TMPDIR", "CARGO_HOME", "RUSTUP_HOME")

# How long `up` may take to say it is up: the script may build first.
UP_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A user's environment: the basics from this process plus ``extra``."""
    env = {k: os.environ[k] for k in _BASE_VARS if k in os.environ}
    for key, value in (extra or {}).items():
        if key.startswith("SWITCHYARD_") and key not in USER_VISIBLE:
            raise AssertionError(f"a journey may not set the internal variable {key}")
        env[key] = value
    return env


def switchyard(args: list[str], cwd: Path, env: Mapping[str, str] | None = None,
               timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Runs ``./switchyard ARGS`` in ``cwd`` to completion (stdout and stderr kept apart)."""
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=user_env(env), capture_output=True,
                          text=True, timeout=timeout)


class Up:
    """``./switchyard up ARGS`` running in ``cwd`` (the user's project directory)."""

    UP_LINE = re.compile(r"Switchyard is up: (http://\S+?)\s")

    def __init__(self, args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.args = args
        self.cwd = cwd
        self.log_path = cwd / f"up-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w+", encoding="utf-8")
        self.proc = subprocess.Popen([str(SCRIPT), *args], cwd=cwd, env=user_env(env),
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.url: str | None = None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_up(self, timeout: float = UP_TIMEOUT) -> str:
        """Waits for 'Switchyard is up: URL'; returns the URL. Fails with the output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.UP_LINE.search(self.output())
            if m:
                self.url = m.group(1).rstrip("/")
                return self.url
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"`switchyard {' '.join(self.args)}` exited ({self.proc.returncode}) "
                    f"before it was up:\n{self.output()}")
            time.sleep(0.2)
        raise AssertionError(f"`switchyard {' '.join(self.args)}` was not up after {timeout} s:\n"
                             f"{self.output()}")

    def wait_exit(self, timeout: float = UP_TIMEOUT) -> int:
        """Waits for the command to end by itself (a refused start); returns its status."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"`switchyard {' '.join(self.args)}` kept running:\n{self.output()}")

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; every process it started must be gone after."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Anything left in the session (Envoy, the keyservice) is a leak: kill and report it.
        leaked = _session_members(self.proc.pid)
        for pid in leaked:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log.close()
        assert not leaked, f"processes left running after Ctrl-C: {leaked}"
        return self.proc.returncode


def _session_members(sid: int) -> list[int]:
    """PIDs still in session ``sid`` (the command and whatever it started)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the parenthesised command name: state ppid pgrp session …
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(entry.name))
    return out
