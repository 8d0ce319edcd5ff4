"""Switchyard's soak and fault run (issue 5): the real gateway under a steady mixed load
with injected upstream faults, for a long time; errors, memory and spend at the end.

What runs (all on 127.0.0.1):

* the mock providers of the integration tests (integration-tests/mocks/, one module per provider),
  an OpenAI one and an Anthropic one, created with ``directives=True`` so that the
  *client* picks each request's fault (``#fault:500`` … at the start of the last user
  message) and knows which requests must fail; they run in a child process of their
  own so that they do not share a GIL with the load generator;
* the release ``switchyard-keyservice`` on SQLite (virtual keys on);
* Envoy 1.40 with the built filter, its bootstrap rendered by the release
  ``switchyard render --keyservice HOST:PORT`` (integration-tests/harness.py), with two
  model groups, ``gpt-soak`` (OpenAI mock) and ``claude-soak`` (Anthropic mock), priced
  in ``litellm_params`` with powers of two so that every cost and every sum of costs
  is an exact binary float: the spend comparison is ``==``, not approximately.

The gateway config has ``num_retries: 0`` (an injected fault reaches the client, no
retry hides it) and ``allowed_fails: 1000000`` (a random run of injected faults never
cools a deployment down, which would turn later good requests into 503s nobody
injected).

The load (default 20 requests/s for 30 minutes, the first minute a warm-up) is a mix:

* chat completions, plain and streamed (with and without ``stream_options.include_usage``)
  to both groups, through the official ``openai`` client (``AsyncOpenAI``,
  ``max_retries=0``, 60 s timeout) with a virtual key made through the gateway's
  ``/key/generate``; every answer is checked (text, finish reason, usage, the
  ``x-litellm-response-cost`` header of plain answers);
* injected faults, plain and streamed, both groups. What the client must get (README,
  "Errors"; ``num_retries: 0``):

  ============================ ==========================================================
  ``#fault:500``               500 (the provider's status and message)
  ``#fault:429``               429 ``rate_limit_error``
  ``#fault:reset``             502 ``api_connection_error`` (Envoy's reset before headers,
                               ``local_reply_config``)
  ``#fault:reset-mid-stream``  streamed: 200, some chunks, then the connection breaks
                               (``APIConnectionError``), never ``[DONE]``; plain: 502
                               ``api_connection_error`` (a plain answer is held whole
                               before its headers go on, so a cut one is a failed attempt)
  ============================ ==========================================================

  Anything else (another status, a timeout, a wrong body) is an unexpected error;
* client disconnects mid-stream (raw ``httpx``): read 1 to 3 SSE events, then close.

Spend. Three keys: ``soak-main`` (every answered request and the 500/429/reset faults),
``soak-disconnect`` (client disconnects) and ``soak-midstream`` (``reset-mid-stream``
faults). The upstream stage (filter/src/stages/upstream/) queues one report per attempt: a
``success`` row with the answer's usage and cost when the answer completes
(``on_response_body`` at ``end_of_stream``), and a ``failure`` row with no spend when the
provider answers with an error status, or when the attempt ends with neither
(``on_done``: the client left, the provider's connection broke). A stream's usage comes
at its end, so a stream cut midway is a ``failure`` row with no spend. Expected:

* ``soak-main``: spend == Σ over answered requests of (prompt × input price +
  completion × output price), with the tokens the mock reported (seen by the client in
  ``usage``, or for a stream without usage derived from the mock's deterministic
  counts, which the plain answers verify); one ``success`` row per answered request,
  one ``failure`` row (spend 0) per 500, 429 and reset fault;
* ``soak-midstream``: one ``failure`` row per fault, spend 0;
* ``soak-disconnect``: one row per disconnect: ``failure`` with spend 0, or — when the
  whole answer had reached Envoy before the client's close did — ``success`` with that
  answer's exact tokens and cost; spend == Σ of those.

Every key has ``max_parallel_requests`` above the client's cap on requests in flight,
so a 429 can only be a slot that was never given back. At the end, no key, key hash or
the master key may appear in Envoy's or the keyservice's log.

Memory: Envoy's and the keyservice's VmRSS (/proc/PID/status) and Envoy's
``server.memory_allocated`` every 15 s; growth is measured from the end of the warm-up.

Usage: bench/soak [--minutes 30] [--rate 20] [--write]   (``--help`` for the rest).
Exit status 1 when there were unexpected errors or the spend does not match.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TESTS = ROOT / "integration-tests"
# The release builds (bench/soak builds them); the harness reads these at import.
os.environ.setdefault("SWITCHYARD_BIN", str(ROOT / "target" / "release" / "switchyard"))
KEYSERVICE = Path(os.environ.get("SWITCHYARD_KEYSERVICE_BIN")
                  or ROOT / "target" / "release" / "switchyard-keyservice")
sys.path.insert(0, str(TESTS))

MASTER_KEY = "sk-soak-master-0123456789"
README = BENCH_DIR / "README.md"
BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"

#: Prices, USD per token: powers of two, so every cost and sum of costs is exact.
PRICES = {
    "gpt-soak": (2.0 ** -20, 2.0 ** -18),     # ~ $0.95 / $3.81 per million tokens
    "claude-soak": (2.0 ** -19, 2.0 ** -17),  # ~ $1.91 / $7.63 per million tokens
}
PROVIDER = {"gpt-soak": "openai", "claude-soak": "anthropic"}
GROUPS = list(PRICES)

#: The mix, by weight (percent of requests).
MIX = {
    "plain": 30,
    "stream": 22,
    "stream+usage": 22,
    "disconnect": 6,
    "fault:500": 5,
    "fault:429": 5,
    "fault:reset": 5,
    "fault:reset-mid-stream": 5,
}
FAULTS = [k for k in MIX if k.startswith("fault:")]

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
         "zulu").split()


# --------------------------------------------------------------------------------------
# The mock providers, in a child process
# --------------------------------------------------------------------------------------


def serve_mocks() -> None:
    """Child process: start both mocks, print their addresses, serve until stdin closes."""
    from mocks import ANTHROPIC_KEY, OPENAI_KEY, AnthropicMock, OpenAIMock

    openai_mock = OpenAIMock(OPENAI_KEY, directives=True).start()
    anthropic_mock = AnthropicMock(ANTHROPIC_KEY, directives=True).start()
    print(json.dumps({"openai": openai_mock.base_url, "anthropic": anthropic_mock.root_url,
                      "openai_key": OPENAI_KEY, "anthropic_key": ANTHROPIC_KEY}), flush=True)
    counts = {"openai": 0, "anthropic": 0}
    stop = threading.Event()

    def forget() -> None:
        # The mocks record every request; a soak must not grow them without bound.
        while not stop.wait(5):
            for name, mock in (("openai", openai_mock), ("anthropic", anthropic_mock)):
                with mock._lock:
                    counts[name] += len(mock._requests)
                    mock._requests.clear()

    threading.Thread(target=forget, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.stdin.close())
    try:
        sys.stdin.read()
    except (OSError, ValueError):
        pass
    stop.set()
    openai_mock.stop()
    anthropic_mock.stop()


class Mocks:
    def __init__(self, workdir: Path) -> None:
        self.log = open(workdir / "mocks.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-mocks"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the mock providers did not start (see {workdir}/mocks.log)")
        self.info = json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --------------------------------------------------------------------------------------
# Keyservice and gateway
# --------------------------------------------------------------------------------------


class Keyservice:
    """The release keyservice on SQLite, on a free port (as integration-tests/test_keys.py)."""

    def __init__(self, workdir: Path) -> None:
        self.log = open(workdir / "keyservice.log", "a")
        self.proc = subprocess.Popen(
            [str(KEYSERVICE), "--listen", "127.0.0.1:0",
             "--database-url", f"sqlite://{workdir / 'keys.db'}",
             "--master-key-env", "SOAK_MASTER"],
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            env=dict(os.environ, SOAK_MASTER=MASTER_KEY))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise SystemExit(f"keyservice did not start: {line!r} (see {workdir}/keyservice.log)")
        self.port = int(line.rsplit(":", 1)[1])
        # Keep draining stdout so the keyservice can never block on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.write(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def gateway_config(mocks: Mocks) -> str:
    (gi, go), (ci, co) = PRICES["gpt-soak"], PRICES["claude-soak"]
    return f"""
model_list:
  - model_name: gpt-soak
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: "{mocks.info['openai']}"
      api_key: os.environ/SOAK_OPENAI_KEY
      input_cost_per_token: {gi!r}
      output_cost_per_token: {go!r}
  - model_name: claude-soak
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: "{mocks.info['anthropic']}"
      api_key: os.environ/SOAK_ANTHROPIC_KEY
      input_cost_per_token: {ci!r}
      output_cost_per_token: {co!r}
router_settings:
  # An injected fault reaches the client as it is: no retry hides it.
  num_retries: 0
  # A random run of injected faults must not cool a deployment down (that would turn
  # later, good requests into 503s nobody injected).
  allowed_fails: 1000000
general_settings:
  master_key: os.environ/SOAK_MASTER
"""


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------------------
# Requests and their outcomes
# --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str          # plain, stream, stream+usage, disconnect, fault:…
    group: str
    mode: str          # plain | stream
    result: str        # ok | expected | unexpected
    detail: str = ""   # for unexpected: status and message
    at: float = 0.0    # seconds since the start
    prompt: int = 0
    completion: int = 0


@dataclass
class Stats:
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: int = 0   # not sent: the client had too many requests in flight
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, o: Outcome) -> None:
        self.outcomes.append(o)


def make_text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))


def words(text: str) -> int:
    return len(text.split())


class Load:
    """Sends the mix and judges every answer."""

    def __init__(self, base_url: str, keys: dict[str, str], stats: Stats, t0: float,
                 seed: int, timeout: float) -> None:
        import httpx2 as httpx  # the HTTP client the openai package is built on
        import openai

        self.openai = openai
        self.httpx = httpx
        self.base_url = base_url
        self.keys = keys
        self.stats = stats
        self.t0 = t0
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.clients = {
            name: openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0,
                                     timeout=timeout)
            for name, key in keys.items()
        }
        self.raw = httpx.AsyncClient(timeout=timeout)
        self.in_flight = 0

    async def close(self) -> None:
        for c in self.clients.values():
            await c.close()
        await self.raw.aclose()

    def pick(self) -> tuple[str, str, str]:
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        group = self.rng.choice(GROUPS)
        if kind == "plain":
            mode = "plain"
        elif kind in ("stream", "stream+usage", "disconnect"):
            mode = "stream"
        else:
            mode = self.rng.choice(["plain", "stream"])
        return kind, group, mode

    def messages(self, text: str) -> tuple[list[dict[str, str]], int]:
        """The request's messages and the prompt tokens the mock will count."""
        msgs: list[dict[str, str]] = []
        prompt = 0
        if self.rng.random() < 0.3:
            system = make_text(self.rng)
            msgs.append({"role": "system", "content": system})
            prompt += words(system)
        msgs.append({"role": "user", "content": text})
        prompt += words(text)
        return msgs, max(1, prompt)

    async def one(self, kind: str, group: str, mode: str) -> None:
        self.in_flight += 1
        o = Outcome(kind, group, mode, "unexpected", at=time.monotonic() - self.t0)
        try:
            if kind == "disconnect":
                await self.disconnect(o)
            elif kind.startswith("fault:"):
                await self.fault(o)
            else:
                await self.answered(o)
        except Exception as exc:  # noqa: BLE001 - every surprise is reported, never raised
            o.result = "unexpected"
            o.detail = describe(exc)
        finally:
            self.in_flight -= 1
            self.stats.add(o)

    # -- answered requests ----------------------------------------------------------------
    async def answered(self, o: Outcome) -> None:
        text = make_text(self.rng)
        msgs, prompt = self.messages(text)
        completion = 4 + words(text)  # "Hello from <provider> mock: <text>"
        want_text = f"Hello from {PROVIDER[o.group]} mock: {text}"
        client = self.clients["main"]
        problems: list[str] = []
        if o.mode == "plain":
            raw = await client.chat.completions.with_raw_response.create(
                model=o.group, messages=msgs)
            answer = raw.parse()
            got_text = answer.choices[0].message.content
            usage = answer.usage
            if usage is None:
                problems.append("no usage")
            else:
                prompt, completion = usage.prompt_tokens, usage.completion_tokens
                if (prompt, completion) != (self.expected_prompt(msgs), 4 + words(text)):
                    problems.append(f"usage {prompt}/{completion} is not the mock's count "
                                    f"{self.expected_prompt(msgs)}/{4 + words(text)}")
            cost = raw.headers.get("x-litellm-response-cost")
            want_cost = price(o.group, prompt, completion)
            if cost is None or float(cost) != want_cost:
                problems.append(f"x-litellm-response-cost {cost!r}, expected {want_cost!r}")
            finish = answer.choices[0].finish_reason
        else:
            extra = {"stream_options": {"include_usage": True}} if o.kind == "stream+usage" else {}
            stream = await client.chat.completions.create(
                model=o.group, messages=msgs, stream=True, **extra)
            pieces: list[str] = []
            finish = None
            usage = None
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        pieces.append(choice.delta.content)
                    if choice.finish_reason:
                        finish = choice.finish_reason
            got_text = "".join(pieces)
            if o.kind == "stream+usage":
                if usage is None:
                    problems.append("no usage chunk although include_usage was asked")
                elif (usage.prompt_tokens, usage.completion_tokens) != (prompt, completion):
                    problems.append(f"usage {usage.prompt_tokens}/{usage.completion_tokens}, "
                                    f"expected {prompt}/{completion}")
            elif usage is not None:
                problems.append("a usage chunk the client did not ask for")
        if got_text != want_text:
            problems.append(f"text {got_text!r}, expected {want_text!r}")
        if finish != "stop":
            problems.append(f"finish_reason {finish!r}")
        o.prompt, o.completion = prompt, completion
        if problems:
            o.detail = "200 but " + "; ".join(problems)
        else:
            o.result = "ok"

    @staticmethod
    def expected_prompt(msgs: list[dict[str, str]]) -> int:
        return max(1, sum(words(m["content"]) for m in msgs))

    # -- injected faults ------------------------------------------------------------------
    async def fault(self, o: Outcome) -> None:
        directive = "#" + o.kind
        msgs, _ = self.messages(f"{directive} {make_text(self.rng)}")
        client = self.clients["midstream" if o.kind == "fault:reset-mid-stream" else "main"]
        want = {"fault:500": (500, None), "fault:429": (429, "rate_limit_error"),
                "fault:reset": (502, "api_connection_error"),
                "fault:reset-mid-stream": (502, "api_connection_error")}[o.kind]
        chunks = 0
        try:
            if o.mode == "plain":
                await client.chat.completions.create(model=o.group, messages=msgs)
            else:
                stream = await client.chat.completions.create(model=o.group, messages=msgs,
                                                              stream=True)
                async for _chunk in stream:
                    chunks += 1
        except self.openai.APIStatusError as err:
            etype = error_type(err.body)
            if o.kind == "fault:reset-mid-stream" and o.mode == "stream":
                o.detail = f"{err.status_code} {etype}: {err.message} (a stream cut midway)"
            elif err.status_code == want[0] and (want[1] is None or etype == want[1]):
                o.result = "expected"
            else:
                o.detail = (f"{err.status_code} {etype}: {err.message} (expected {want[0]}"
                            f"{' ' + want[1] if want[1] else ''})")
            return
        except self.openai.APITimeoutError:
            o.detail = f"timeout after {self.timeout:.0f} s"
            return
        except self.openai.APIConnectionError as err:
            if o.kind == "fault:reset-mid-stream" and o.mode == "stream":
                o.result = "expected"
                o.completion = chunks  # chunks the client had before the break
            else:
                o.detail = f"connection error: {describe(err.__cause__ or err)}"
            return
        o.detail = f"200 and {chunks} chunks: the injected {o.kind} did not reach the client"

    # -- client disconnects ---------------------------------------------------------------
    async def disconnect(self, o: Outcome) -> None:
        text = make_text(self.rng)
        msgs, prompt = self.messages(text)
        # What the answer would cost, should it complete before the client leaves.
        o.prompt, o.completion = prompt, 4 + words(text)
        keep = self.rng.randint(1, 3)
        seen = 0
        async with self.raw.stream(
                "POST", f"{self.base_url}/v1/chat/completions",
                json={"model": o.group, "messages": msgs, "stream": True},
                headers={"Authorization": f"Bearer {self.keys['disconnect']}"}) as resp:
            if resp.status_code != 200:
                body = (await resp.aread()).decode("utf-8", "replace")
                o.detail = f"{resp.status_code}: {body[:300]}"
                return
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    seen += 1
                    if seen >= keep:
                        break
        # Leaving the block with the body unread closes the connection.
        if seen >= keep:
            o.result = "ok"
        else:
            o.detail = f"the stream ended after {seen} events, before the client left"


def error_type(body: Any) -> str | None:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner.get("type")
    return None


def describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    status = getattr(exc, "status_code", None)
    prefix = f"{status} " if status else ""
    return f"{prefix}{type(exc).__name__}: {text[:300]}"


def price(group: str, prompt: int, completion: int) -> float:
    pin, pout = PRICES[group]
    return prompt * pin + completion * pout


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------


async def admin_call(client: Any, method: str, url: str, **kw: Any) -> Any:
    resp = await client.request(method, url, headers={"Authorization": f"Bearer {MASTER_KEY}"},
                                **kw)
    if resp.status_code != 200:
        raise SystemExit(f"{method} {url} answered {resp.status_code}: {resp.text[:300]}")
    return resp.json()


async def sampler(gw: Any, ks: Keyservice, stats: Stats, t0: float, every: float,
                  stop: asyncio.Event) -> None:
    import httpx2 as httpx

    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            sample: dict[str, Any] = {
                "t": time.monotonic() - t0,
                "envoy_kib": rss_kib(gw.process.pid) if gw.process else None,
                "keyservice_kib": rss_kib(ks.proc.pid),
            }
            try:
                r = await client.get(f"{gw.admin_url}/stats?filter=^server\\.memory_")
                for line in r.text.splitlines():
                    name, _, value = line.partition(": ")
                    sample[name.strip()] = int(value)
            except Exception:  # noqa: BLE001
                pass
            stats.samples.append(sample)
            try:
                await asyncio.wait_for(stop.wait(), every)
                return
            except asyncio.TimeoutError:
                pass


async def run(args: argparse.Namespace, gw: Any, ks: Keyservice) -> dict[str, Any]:
    import httpx2 as httpx

    base = gw.base_url
    async with httpx.AsyncClient(timeout=30) as client:
        keys: dict[str, str] = {}
        tokens: dict[str, str] = {}
        for name in ("main", "disconnect", "midstream"):
            # The parallel limit is above what the client ever has in flight: a 429
            # can only mean slots that were never given back.
            made = await admin_call(client, "POST", f"{base}/key/generate", json={
                "models": GROUPS, "key_alias": f"soak-{name}",
                "max_parallel_requests": args.max_in_flight + 50})
            keys[name] = made["key"]
            tokens[name] = made["token"]

    stats = Stats()
    t0 = time.monotonic()
    wall0 = time.time()
    load = Load(base, keys, stats, t0, args.seed, args.timeout)
    stop_sampling = asyncio.Event()
    sampling = asyncio.create_task(sampler(gw, ks, stats, t0, args.sample_seconds,
                                           stop_sampling))
    duration = args.minutes * 60.0
    interval = 1.0 / args.rate
    tasks: set[asyncio.Task[None]] = set()
    next_at = t0
    last_progress = t0
    print(f"soak: {args.minutes} min at {args.rate}/s against {base}", file=sys.stderr)
    while True:
        now = time.monotonic()
        if now - t0 >= duration:
            break
        if now < next_at:
            await asyncio.sleep(next_at - now)
            continue
        next_at += interval
        if next_at < now - 1.0:  # the loop fell behind by more than a second: do not burst
            next_at = now
        if load.in_flight >= args.max_in_flight:
            stats.skipped += 1
            continue
        task = asyncio.create_task(load.one(*load.pick()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        if now - last_progress >= 60:
            last_progress = now
            print(progress_line(stats, now - t0, load.in_flight), file=sys.stderr, flush=True)
    sent_until = time.monotonic() - t0
    if tasks:
        await asyncio.wait(tasks, timeout=args.timeout + 30)
    stop_sampling.set()
    await sampling
    await load.close()
    print(progress_line(stats, time.monotonic() - t0, load.in_flight), file=sys.stderr)

    # Spend: the filter reports every 100 ms; wait until the main key's spend is the
    # expected one (or stops moving), then a little more for anything late.
    expected = expected_spend(stats)
    async with httpx.AsyncClient(timeout=30) as client:
        async def spend_of(name: str) -> float:
            info = await admin_call(client, "GET", f"{base}/key/info",
                                    params={"key": keys[name]})
            return float(info["info"]["spend"])

        deadline = time.monotonic() + args.settle_seconds
        last, stable_since = None, time.monotonic()
        while time.monotonic() < deadline:
            got = await spend_of("main")
            if got != last:
                last, stable_since = got, time.monotonic()
            if got == expected["main"] and time.monotonic() - stable_since >= 3:
                break
            if got != expected["main"] and time.monotonic() - stable_since >= 10:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)
        recorded = {name: await spend_of(name) for name in keys}
        rows = {name: await spend_rows(client, base, keys[name], wall0 - 120, time.time() + 120)
                for name in keys}
        stats_text = (await client.get(f"{gw.admin_url}/stats")).text
    return {"stats": stats, "keys": keys, "tokens": tokens, "expected": expected, "recorded": recorded,
            "rows": rows, "envoy_stats": parse_stats(stats_text), "sent_until": sent_until,
            "wall0": wall0}


def progress_line(stats: Stats, t: float, in_flight: int) -> str:
    c = Counter(o.result for o in stats.outcomes)
    return (f"soak: {t / 60:5.1f} min  done {len(stats.outcomes)}  ok {c['ok']}  "
            f"expected faults {c['expected']}  unexpected {c['unexpected']}  "
            f"in flight {in_flight}  skipped {stats.skipped}")


async def spend_rows(client: Any, base: str, key: str, start: float, end: float
                     ) -> list[dict[str, Any]]:
    """Every spend-log row of ``key`` (``/spend/logs`` returns at most 10 000 rows per
    call: asked for one minute at a time)."""
    rows: list[dict[str, Any]] = []
    t = int(start)
    while t < end:
        a = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
        b = datetime.datetime.fromtimestamp(t + 60, datetime.timezone.utc)
        got = await admin_call(client, "GET", f"{base}/spend/logs", params={
            "api_key": key, "summarize": "false",
            "start_date": a.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_date": b.strftime("%Y-%m-%dT%H:%M:%SZ")})
        if len(got) >= 10_000:
            raise SystemExit("more than 10 000 spend rows in one minute: shorten the windows")
        rows.extend(got)
        t += 60
    return rows


def expected_spend(stats: Stats) -> dict[str, float]:
    main = 0.0
    for o in stats.outcomes:
        if o.result == "ok" and o.kind in ("plain", "stream", "stream+usage"):
            main += price(o.group, o.prompt, o.completion)
    return {"main": main, "disconnect": 0.0, "midstream": 0.0}


def parse_stats(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"-?\d+", value.strip()):
            out[name] = int(value)
    return out


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


def mib(kib: int | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f}"


def sample_at(samples: list[dict[str, Any]], t: float) -> dict[str, Any]:
    return min(samples, key=lambda s: abs(s["t"] - t))


def slope_mib_per_hour(samples: list[dict[str, Any]], key: str) -> float | None:
    pts = [(s["t"], s[key]) for s in samples if s.get(key) is not None]
    if len(pts) < 3:
        return None
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    var = sum((p[0] - mx) ** 2 for p in pts)
    if var == 0:
        return None
    slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / var  # KiB per second
    return slope * 3600 / 1024


def report(args: argparse.Namespace, res: dict[str, Any]) -> tuple[str, bool]:
    stats: Stats = res["stats"]
    out: list[str] = []
    w = out.append
    outcomes = stats.outcomes
    answered = [o for o in outcomes if not o.kind.startswith("fault:")]
    faults = [o for o in outcomes if o.kind.startswith("fault:")]
    unexpected = [o for o in outcomes if o.result == "unexpected"]
    started = datetime.datetime.fromtimestamp(res["wall0"], datetime.timezone.utc)
    rev = res["rev"]
    w("`bench/soak` runs the real gateway (Envoy with the filter, virtual keys on) in front "
      "of the integration tests' OpenAI and Anthropic mocks under a steady mix of plain and "
      "streamed chat completions, injected upstream faults the client picks per request "
      "(`#fault:…` directives), and client disconnects mid-stream; then it reports the "
      "errors the client saw beyond the injected ones, memory, and the spend the "
      "keyservice recorded against the spend of the answers (what is checked, and why: "
      "the docstring of `bench/soak.py`). `bench/soak --minutes 2` for a short run; "
      "`--write` puts the report here.")
    w("")
    w(f"Run of {started:%Y-%m-%d %H:%M} UTC at `{rev}`: `bench/soak --minutes {args.minutes:g} "
      f"--rate {args.rate:g}` — {len(outcomes)} requests in {res['sent_until'] / 60:.1f} min "
      f"({len(outcomes) / max(res['sent_until'], 1):.1f}/s), {os.cpu_count()} CPUs shared with "
      f"other work; Envoy 1.40 `--concurrency 1` with the filter, release `switchyard` "
      f"render, release keyservice on SQLite; mocks from `integration-tests/mocks` with "
      f"`directives=True`; `num_retries: 0`, `allowed_fails: 1000000`; every key has "
      f"`max_parallel_requests: {args.max_in_flight + 50}`, above the client's cap of "
      f"{args.max_in_flight} in flight, so a 429 can only be a slot never given back.")
    w("")
    verdict_ok = True

    w("**Requests by kind** (`openai` client, `max_retries=0`; disconnects with raw httpx):")
    w("")
    w("| kind | group | sent | answered as checked | unexpected |")
    w("|---|---|---:|---:|---:|")
    for kind in ("plain", "stream", "stream+usage", "disconnect"):
        for group in GROUPS:
            sel = [o for o in answered if o.kind == kind and o.group == group]
            ok = sum(o.result == "ok" for o in sel)
            label = {"plain": "chat, plain", "stream": "chat, streamed",
                     "stream+usage": "chat, streamed, `include_usage`",
                     "disconnect": "streamed, client leaves after 1–3 events"}[kind]
            w(f"| {label} | {group} | {len(sel)} | {ok} | {len(sel) - ok} |")
    if stats.skipped:
        w(f"\nNot sent (the client already had {args.max_in_flight} requests in flight): "
          f"{stats.skipped}.")
    w("")
    w("**Injected faults** (the mock obeys `#fault:…` in the request; counted as expected "
      "only when the client got exactly the error below):")
    w("")
    w("| fault | client must get | group | plain sent / as expected | streamed sent / as expected |")
    w("|---|---|---|---:|---:|")
    musts = {"fault:500": "500", "fault:429": "429 `rate_limit_error`",
             "fault:reset": "502 `api_connection_error`",
             "fault:reset-mid-stream": "plain: 502 `api_connection_error`; streamed: 200, "
                                       "chunks, then a broken connection"}
    for kind in FAULTS:
        for group in GROUPS:
            cells = []
            for mode in ("plain", "stream"):
                sel = [o for o in faults if o.kind == kind and o.group == group and o.mode == mode]
                cells.append(f"{len(sel)} / {sum(o.result == 'expected' for o in sel)}")
            w(f"| `#{kind}` | {musts[kind]} | {group} | {cells[0]} | {cells[1]} |")
    cut = sorted(o.completion for o in faults
                 if o.kind == "fault:reset-mid-stream" and o.mode == "stream"
                 and o.result == "expected")
    if cut:
        w("")
        w(f"Streamed `reset-mid-stream` (the mock sends 3 events, then a TCP reset): chunks "
          f"the client got before the break: min {cut[0]}, median {cut[len(cut) // 2]}, "
          f"max {cut[-1]}.")
    w("")
    w(f"**Client-visible errors beyond the injected ones: {len(unexpected)}** (goal 0).")
    if unexpected:
        verdict_ok = False
        w("")
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for o in unexpected:
            groups[f"{o.kind} {o.group} {o.mode}: {o.detail}"].append(o)
        w("| count | first at (min) | request | status and message |")
        w("|---:|---:|---|---|")
        for key, items in sorted(groups.items(), key=lambda kv: kv[1][0].at):
            o = items[0]
            detail = o.detail.replace("|", "\\|").replace("\n", " ")
            w(f"| {len(items)} | {o.at / 60:.2f} | {o.kind}, {o.group}, {o.mode} | {detail} |")
    w("")

    # Memory.
    samples = stats.samples
    warm = min(args.warmup_seconds, res["sent_until"] / 2)
    after = [s for s in samples if s["t"] >= warm - 1e-6] or samples
    first, last = after[0], samples[-1]
    w(f"**Memory** (VmRSS, sampled every {args.sample_seconds:g} s; start = after the "
      f"{warm:.0f} s warm-up):")
    w("")
    w("| process | start MiB | end MiB | growth MiB | growth % | trend after warm-up |")
    w("|---|---:|---:|---:|---:|---:|")
    for label, key in (("Envoy (RSS)", "envoy_kib"), ("keyservice (RSS)", "keyservice_kib")):
        a, b = first.get(key), last.get(key)
        slope = slope_mib_per_hour(after, key)
        if a and b:
            w(f"| {label} | {mib(a)} | {mib(b)} | {(b - a) / 1024:+.1f} | "
              f"{(b - a) / a * 100:+.1f} % | "
              f"{'–' if slope is None else f'{slope:+.1f} MiB/h'} |")
    a, b = first.get("server.memory_allocated"), last.get("server.memory_allocated")
    if a and b:
        slope = slope_mib_per_hour([{"t": s["t"], "m": s.get("server.memory_allocated", 0) / 1024}
                                    for s in after], "m")
        w(f"| Envoy heap (`server.memory_allocated`) | {a / 2**20:.1f} | {b / 2**20:.1f} | "
          f"{(b - a) / 2**20:+.1f} | {(b - a) / a * 100:+.1f} % | "
          f"{'–' if slope is None else f'{slope:+.1f} MiB/h'} |")
    w("")
    step = args.table_minutes * 60
    marks = [0.0, warm] + [k * step for k in range(1, int(samples[-1]["t"] // step) + 1)]
    marks.append(samples[-1]["t"])
    w("| minute | Envoy RSS MiB | Envoy heap MiB | keyservice RSS MiB |")
    w("|---:|---:|---:|---:|")
    seen: set[float] = set()
    for t in sorted(set(marks)):
        s = sample_at(samples, t)
        if s["t"] in seen:
            continue
        seen.add(s["t"])
        heap = s.get("server.memory_allocated")
        w(f"| {s['t'] / 60:.1f} | {mib(s.get('envoy_kib'))} | "
          f"{'–' if heap is None else f'{heap / 2**20:.1f}'} | {mib(s.get('keyservice_kib'))} |")
    w("")

    # Spend.
    exp, rec, rows = res["expected"], res["recorded"], res["rows"]
    main_rows = rows["main"]
    ok_main = [o for o in answered if o.result == "ok" and o.kind != "disconnect"]
    success = [r for r in main_rows if r["status"] == "success"]
    failure = [r for r in main_rows if r["status"] != "success"]
    want_failure = sum(1 for o in faults if o.kind in ("fault:500", "fault:429", "fault:reset")
                       and o.result == "expected")
    tokens_want: dict[str, list[int]] = {g: [0, 0, 0] for g in GROUPS}
    for o in ok_main:
        t = tokens_want[o.group]
        t[0] += 1
        t[1] += o.prompt
        t[2] += o.completion
    tokens_got: dict[str, list[int]] = {g: [0, 0, 0] for g in GROUPS}
    for r in success:
        t = tokens_got.setdefault(r["model_group"], [0, 0, 0])
        t[0] += 1
        t[1] += r["prompt_tokens"]
        t[2] += r["completion_tokens"]
    failure_ok = len(failure) == want_failure and all(r["spend"] == 0 for r in failure)
    main_match = rec["main"] == exp["main"] and tokens_got == tokens_want and failure_ok
    w("**Spend** (prices are powers of two, so every sum is exact and compared with `==`; "
      "read back with `/key/info` and `/spend/logs` after the reports settled):")
    w("")
    w("| key | what | expected | recorded by the keyservice | |")
    w("|---|---|---:|---:|---|")
    w(f"| soak-main | spend USD | {exp['main']!r} | {rec['main']!r} | "
      f"{'✅' if rec['main'] == exp['main'] else '❌'} |")
    for g in GROUPS:
        a, b = tokens_want[g], tokens_got.get(g, [0, 0, 0])
        w(f"| soak-main | {g}: success rows / prompt / completion tokens | "
          f"{a[0]} / {a[1]} / {a[2]} | {b[0]} / {b[1]} / {b[2]} | {'✅' if a == b else '❌'} |")
    extra_groups = set(tokens_got) - set(GROUPS)
    if extra_groups:
        w(f"| soak-main | rows of other groups | 0 | {sorted(extra_groups)} | ❌ |")
    w(f"| soak-main | `failure` rows (one per 500, 429 and reset fault), their spend | "
      f"{want_failure} / 0.0 | {len(failure)} / {sum(r['spend'] for r in failure)!r} | "
      f"{'✅' if failure_ok else '❌'} |")

    cuts = [o for o in faults if o.kind == "fault:reset-mid-stream" and o.result == "expected"]
    mid = rows["midstream"]
    mid_ok = (len(mid) == len(cuts) and all(r["status"] == "failure" for r in mid)
              and rec["midstream"] == 0.0)
    w(f"| soak-midstream | `reset-mid-stream` faults: `failure` rows / spend | "
      f"{len(cuts)} / 0.0 | {sum(r['status'] == 'failure' for r in mid)} of {len(mid)} / "
      f"{rec['midstream']!r} | {'✅' if mid_ok else '❌'} |")

    # Disconnects: each a failure row, or a success row with exactly the tokens of one
    # of the disconnected requests (its answer completed before the close arrived).
    left = [o for o in answered if o.kind == "disconnect" and o.result == "ok"]
    drows = rows["disconnect"]
    pool = Counter((o.group, o.prompt, o.completion) for o in left)
    completed = [r for r in drows if r["status"] == "success"]
    unmatched = 0
    want_dspend = 0.0
    for r in completed:
        sig = (r["model_group"], r["prompt_tokens"], r["completion_tokens"])
        if pool[sig] > 0:
            pool[sig] -= 1
            want_dspend += price(*sig)
        else:
            unmatched += 1
    dfail = [r for r in drows if r["status"] != "success"]
    disc_ok = (len(drows) == len(left) and unmatched == 0
               and all(r["spend"] == 0 for r in dfail) and rec["disconnect"] == want_dspend)
    w(f"| soak-disconnect | client disconnects: rows (`failure` + `success`) | {len(left)} | "
      f"{len(drows)} ({len(dfail)} + {len(completed)}) | "
      f"{'✅' if len(drows) == len(left) else '❌'} |")
    w(f"| soak-disconnect | spend (of the answers that completed before the close) | "
      f"{want_dspend!r} | {rec['disconnect']!r}"
      f"{f' ({unmatched} success rows match no request)' if unmatched else ''} | "
      f"{'✅' if disc_ok else '❌'} |")
    w("")
    w("The upstream stage reports each attempt once: a `success` row when the answer "
      "completes, a `failure` row (no spend) for a provider error or for an attempt that "
      "ends with neither — the client left, the provider's connection broke "
      "(`filter/src/stages/upstream/`, `on_done`). A stream's usage comes at its end, so a "
      "stream cut midway records no spend, although the provider bills the prompt and the "
      "tokens it generated: that is the gateway's documented limit, not counted as a "
      "mismatch. A disconnect whose answer had already reached Envoy in full is billed "
      "in full.")
    w("")
    secrets = res.get("secrets_in_logs", [])
    w(f"**Secrets in logs:** {'none' if not secrets else ', '.join(secrets)} (the three keys, "
      f"their hashes and the master key, searched in Envoy's and the keyservice's logs "
      f"after both stopped).")
    w("")
    side_ok = mid_ok and disc_ok
    if not main_match or not side_ok or secrets:
        verdict_ok = False

    # Envoy stats.
    es: dict[str, int] = res["envoy_stats"]
    picks = [n for n in sorted(es) if re.search(
        r"^(http\.switchyard\.(downstream_rq_(total|[2-5]xx|rx_reset|tx_reset|timeout)|"
        r"downstream_cx_(total|destroy_remote_active_rq)|ext_authz\.\w+)"
        r"|cluster\.[^.]+\.(upstream_rq_(total|[2-5]xx|retry|timeout|pending_overflow|rx_reset|tx_reset)"
        r"|upstream_cx_(total|destroy_remote_with_active_rq|destroy_local_with_active_rq|connect_fail)"
        r"|outlier_detection\.ejections_enforced_total)"
        r"|wasm\..*|server\.(memory_allocated|memory_heap_size))$", n) and es[n]]
    w("**Envoy admin stats at the end** (non-zero counters of interest):")
    w("")
    w("<details><summary>stats</summary>")
    w("")
    w("| stat | value |")
    w("|---|---:|")
    for n in picks:
        w(f"| `{n}` | {es[n]} |")
    w("")
    w("</details>")
    w("")
    w(f"**Verdict: {'pass' if verdict_ok else 'FAIL'}** — unexpected errors "
      f"{len(unexpected)}, spend {'matches' if main_match else 'DOES NOT match'}"
      f"{'' if side_ok else ', cut streams recorded something unexpected (see the table)'}"
      f"{', secrets in logs' if secrets else ''}.")
    return "\n".join(out), verdict_ok


def write_readme(text: str) -> None:
    if not README.exists():
        README.write_text(f"# Benchmarks and soak\n\n## Soak\n\n{BEGIN}\n{END}\n")
    current = README.read_text()
    if BEGIN not in current or END not in current:
        current = current.rstrip("\n") + f"\n\n## Soak\n\n{BEGIN}\n{END}\n"
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="duration (default 30)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (20)")
    parser.add_argument("--warmup-seconds", type=float, default=60.0,
                        help="memory growth is measured from here (60)")
    parser.add_argument("--sample-seconds", type=float, default=15.0,
                        help="RSS sampling period (15)")
    parser.add_argument("--table-minutes", type=float, default=5.0,
                        help="one memory line per this many minutes (5)")
    parser.add_argument("--timeout", type=float, default=60.0, help="client timeout (60 s)")
    parser.add_argument("--max-in-flight", type=int, default=200,
                        help="requests in flight before the client skips a tick (200)")
    parser.add_argument("--settle-seconds", type=float, default=30.0,
                        help="longest wait for the spend reports to land (30)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--write", action="store_true",
                        help="write the report between the soak markers of bench/README.md")
    parser.add_argument("--serve-mocks", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_mocks:
        serve_mocks()
        return 0

    import harness  # after SWITCHYARD_BIN is set

    missing = harness.missing_prerequisites()
    if not KEYSERVICE.exists():
        missing.append(f"keyservice not found at {KEYSERVICE}")
    if missing:
        raise SystemExit("; ".join(missing) + " (bench/soak builds them)")
    # The commit measured: taken now, as the binaries were just built from this tree.
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = "?"
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-soak-"))
    print(f"soak: work directory {workdir}", file=sys.stderr)
    mocks = Mocks(workdir)
    ks = gw = None
    try:
        ks = Keyservice(workdir)
        gw = harness.Gateway(
            gateway_config(mocks),
            {"SOAK_OPENAI_KEY": mocks.info["openai_key"],
             "SOAK_ANTHROPIC_KEY": mocks.info["anthropic_key"],
             "SOAK_MASTER": MASTER_KEY, "SWITCHYARD_MASTER_KEY": MASTER_KEY},
            workdir=workdir / "gw", extra_render_args=["--keyservice", f"127.0.0.1:{ks.port}"])
        gw.start()
        res = asyncio.run(run(args, gw, ks))
        res["rev"] = rev
        alive = gw.running and ks.proc.poll() is None
    finally:
        if gw is not None:
            gw.stop()
        if ks is not None:
            ks.stop()
        mocks.stop()
    found = []
    logs = {"envoy": gw.log_text(), "keyservice": (workdir / "keyservice.log").read_text()}
    for name, text in logs.items():
        for label, secret in ([("master key", MASTER_KEY)]
                              + [(f"key soak-{k}", v) for k, v in res["keys"].items()]
                              + [(f"hash of soak-{k}", v) for k, v in res["tokens"].items()]):
            if secret in text:
                found.append(f"{label} in the {name} log")
    res["secrets_in_logs"] = found
    text, ok = report(args, res)
    if not alive:
        text += "\n\n**Envoy or the keyservice exited during the run.**"
        ok = False
    print(text)
    if args.write:
        write_readme(text)
        print(f"\nsoak: written to {README}", file=sys.stderr)
    print(f"soak: logs in {workdir}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
