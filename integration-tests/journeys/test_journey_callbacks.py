"""Logging callbacks across a user's Ctrl-C: ``./switchyard up`` with LiteLLM's
``success_callback: ["langfuse"]`` and the Langfuse keys in the environment, as
LiteLLM's Langfuse docs tell users to set it up.

Envoy does not wait for the filter's queued callback events when it gets SIGTERM
(docs/envoy-facts.md, "Shutdown"), so ``up`` drains first: the listener stops
taking requests, the requests in flight finish, the workers' callback queues empty
(the gauge ``wasmcustom.switchyard_callback_events_pending``), then Envoy stops.
The collector here is slow (every answer waits) and refuses the first batch (503),
so at Ctrl-C the events of that batch wait for their retry: every request's trace
and generation must still reach it.
"""

from __future__ import annotations

from openai import OpenAI

from harness import wait_for
from mocks import OPENAI_KEY
from mocks.langfuse import LangfuseMock
from user import ONE_OPENAI_MODEL, free_port

PUBLIC, SECRET = "pk-lf-journey", "sk-lf-journey"
REQUESTS = 12

CONFIG = ONE_OPENAI_MODEL + """litellm_settings:
  success_callback: ["langfuse"]
"""


def test_ctrl_c_loses_no_callback_event(project, up, openai_mock):
    with LangfuseMock(PUBLIC, SECRET) as lf:
        lf.delay_next(0.5, n=None)  # a slow collector
        lf.fail_next(1, 503)  # whose first batch must be tried again
        (project / "config.yaml").write_text(CONFIG.format(base=openai_mock.base_url))
        run = up(["--config", "config.yaml", "--port", str(free_port())],
                 {"OPENAI_API_KEY": OPENAI_KEY, "LANGFUSE_PUBLIC_KEY": PUBLIC,
                  "LANGFUSE_SECRET_KEY": SECRET, "LANGFUSE_HOST": lf.root_url})
        client = OpenAI(base_url=f"{run.url}/v1", api_key="anything", max_retries=0, timeout=20)
        call_ids = set()
        for i in range(REQUESTS):
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-3.5-turbo", messages=[{"role": "user", "content": f"question {i}"}])
            call_ids.add(raw.headers["x-litellm-call-id"])
        # Ctrl-C right after the last answer: `up` must send what is queued first.
        wait_for(lambda: lf.requests, timeout=10, what="the first batch reaching the collector")
        status = run.stop()
        output = run.log_path.read_text(encoding="utf-8", errors="replace")
        assert status == 0, output
        generations = {g["id"] for g in lf.events_of("generation-create")}
        traces = {t["id"] for t in lf.events_of("trace-create")}
        assert generations == call_ids, (
            f"{len(call_ids - generations)} of {REQUESTS} generations lost at Ctrl-C:\n{output}")
        assert traces == call_ids
        assert lf.invalid == []
        assert "callback event(s) not sent" not in output
