"""Progress reports reach the API in order, once per step, through an outage and a restart."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tokenmill_trainer.progress import ProgressReporter


class Api:
    def __init__(self):
        self.up = True
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.failures = 0
        self.got = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not api.up:
                    with api.got:
                        api.failures += 1
                        api.got.notify_all()
                    self.send_response(503)
                    self.end_headers()
                    return
                with api.got:
                    api.received.append(json.loads(body))
                    api.headers.append(dict(self.headers))
                    api.got.notify_all()
                self.send_response(202)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1/runs/r1/progress"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        with self.got:
            assert self.got.wait_for(lambda: len(self.received) >= n, timeout), self.received

    def close(self):
        self.server.shutdown()


def report(r: ProgressReporter, step: int) -> None:
    r.report(step, {"web": step * 100}, loss=1.0 / step, lr=1e-3, tokens_per_s=10.0, mfu=None)


def test_outage_and_restart_lose_nothing_and_keep_order(tmp_path):
    api = Api()
    spool = tmp_path / "progress.jsonl"
    try:
        r = ProgressReporter(spool, "r1", api.url, "tok-123", timeout_s=2, backoff_s=(0.05, 0.2))
        report(r, 1)
        api.wait_for(1)
        api.up = False
        for step in (2, 3):
            report(r, step)
        with api.got:
            api.got.wait_for(lambda: api.failures >= 2, 10)
        assert r.close(flush_timeout_s=0.3) is False  # API still down: reports stay in the spool
        # a restarted trainer (resume) sends what is left, then new reports, in order
        api.up = True
        r2 = ProgressReporter(spool, "r1", api.url, "tok-123", timeout_s=2, backoff_s=(0.05, 0.2))
        report(r2, 4)
        assert r2.close(flush_timeout_s=10) is True
        assert [b["step"] for b in api.received] == [1, 2, 3, 4]
        assert api.received[2] == {"step": 3, "tokens_consumed": {"web": 300}, "loss": 1 / 3, "lr": 1e-3,
                                   "tokens_per_s": 10.0, "mfu": None}
        assert all(h["Authorization"] == "Bearer tok-123" for h in api.headers)
        assert [h["Idempotency-Key"] for h in api.headers] == ["r1:1", "r1:2", "r1:3", "r1:4"]
    finally:
        api.close()


def test_without_an_api_reports_go_to_the_local_file(tmp_path):
    r = ProgressReporter(tmp_path / "p.jsonl", "r1")
    report(r, 5)
    assert r.close() is True
    assert json.loads((tmp_path / "p.jsonl").read_text())["step"] == 5
