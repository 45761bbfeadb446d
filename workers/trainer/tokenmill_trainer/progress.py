"""Progress reports (contract 6) and JSON-line logs.

Every report is first appended to a local spool (JSONL, in order) and then POSTed by a background
thread, oldest first, with exponential backoff while the API is down: nothing is lost and order is
kept. How far the spool has been delivered is stored next to it, so reports left over when the
trainer stopped go out when it starts again (on resume). The API deduplicates per (run, step);
the `Idempotency-Key: <run>:<step>` header says so explicitly. Without an endpoint the spool is
simply the run's local progress file.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO


class JsonLogger:
    """JSON lines to stdout (and optionally a file): one object per event, with a timestamp."""

    def __init__(self, path: str | Path | None = None, stream: TextIO | None = None, **context: Any):
        self.stream = stream or sys.stdout
        self.file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self.context = context

    def log(self, event: str, **fields: Any) -> None:
        line = json.dumps({"ts": round(time.time(), 3), "event": event, **self.context, **fields})
        print(line, file=self.stream, flush=True)
        if self.file:
            self.file.write(line + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


class ProgressReporter:
    def __init__(self, spool: str | Path, run_id: str, endpoint: str | None = None, token: str | None = None,
                 timeout_s: float = 10.0, backoff_s: tuple[float, float] = (0.5, 30.0), logger: JsonLogger | None = None):
        self.spool = Path(spool)
        self.sent_path = self.spool.with_name(self.spool.name + ".sent")
        self.run_id, self.endpoint, self.token = run_id, endpoint, token
        self.timeout_s, self.backoff_s, self.logger = timeout_s, backoff_s, logger
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        self._cv = threading.Condition()
        self._closing = False
        self._lines: list[str] = self.spool.read_text().splitlines() if self.spool.exists() else []
        self._sent = int(self.sent_path.read_text()) if self.sent_path.exists() else 0
        self._thread = None
        if endpoint:
            self._thread = threading.Thread(target=self._run, daemon=True, name="progress")
            self._thread.start()

    def report(self, step: int, tokens_consumed: dict[str, int], loss: float, lr: float,
               tokens_per_s: float | None, mfu: float | None, **extra: Any) -> None:
        body = {"step": step, "tokens_consumed": dict(tokens_consumed), "loss": loss, "lr": lr,
                "tokens_per_s": tokens_per_s, "mfu": mfu, **extra}
        line = json.dumps(body)
        with self._cv:
            with open(self.spool, "a", encoding="utf-8") as f:
                f.write(line + "\n")
            self._lines.append(line)
            self._cv.notify()

    @property
    def pending(self) -> int:
        with self._cv:
            return len(self._lines) - self._sent if self.endpoint else 0

    def close(self, flush_timeout_s: float = 30.0) -> bool:
        """Waits up to flush_timeout_s for the spool to drain; True when everything was delivered."""
        if self._thread is None:
            return True
        deadline = time.monotonic() + flush_timeout_s
        with self._cv:
            while self._sent < len(self._lines) and time.monotonic() < deadline:
                self._cv.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            self._closing = True
            self._cv.notify_all()
        self._thread.join(timeout=self.timeout_s + 1)
        return self.pending == 0

    def _post(self, line: str) -> None:
        step = json.loads(line)["step"]
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"{self.run_id}:{step}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.endpoint, data=line.encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            resp.read()

    def _run(self) -> None:
        delay = self.backoff_s[0]
        while True:
            with self._cv:
                while self._sent >= len(self._lines) and not self._closing:
                    self._cv.wait()
                if self._sent >= len(self._lines) or (self._closing and delay > self.backoff_s[0]):
                    return
                line = self._lines[self._sent]
            try:
                self._post(line)
            except urllib.error.HTTPError as e:
                if 400 <= e.code < 500 and e.code not in (408, 409, 425, 429):
                    # A permanent refusal (bad token, bad body): retrying cannot help; skip it loudly.
                    if self.logger:
                        self.logger.log("progress_rejected", status=e.code, body=line)
                else:
                    self._backoff(delay, e)
                    delay = min(delay * 2, self.backoff_s[1])
                    continue
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                self._backoff(delay, e)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            delay = self.backoff_s[0]
            with self._cv:
                self._sent += 1
                tmp = self.sent_path.with_suffix(".tmp")
                tmp.write_text(str(self._sent))
                os.replace(tmp, self.sent_path)
                self._cv.notify_all()

    def _backoff(self, delay: float, err: Exception) -> None:
        if self.logger:
            self.logger.log("progress_retry", error=str(err), retry_in_s=delay, pending=self.pending)
        with self._cv:
            if not self._closing:
                self._cv.wait(delay)
