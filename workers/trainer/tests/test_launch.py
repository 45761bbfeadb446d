"""tokenmill_trainer.launch: ranks, their environment, fail-fast, SIGTERM passed on, the stdin watch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# A stand-in for the trainer: records its environment, then behaves as argv[1] says.
FAKE_RANK = """
import json, os, signal, sys, time
mode, out = sys.argv[1], sys.argv[2]
rank = int(os.environ.get("RANK", "0"))
keys = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "OMP_NUM_THREADS"]
stop = []
if mode == "term":
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(f"{out}/rank-{rank}.json", "w") as f:
    json.dump({"pid": os.getpid(), **{k: os.environ.get(k) for k in keys}}, f)
if mode == "ok":
    sys.exit(0)
if mode == "fail-rank-1" and rank == 1:
    sys.exit(3)
end = time.monotonic() + 120
while not stop and time.monotonic() < end:
    time.sleep(0.05)
sys.exit(0 if stop else 9)
"""


@pytest.fixture
def fake(tmp_path: Path):
    (tmp_path / "fake_rank.py").write_text(FAKE_RANK)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    env.pop("OMP_NUM_THREADS", None)

    def start(mode: str, *opts: str, **kw) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "tokenmill_trainer.launch", *opts, "--module", "fake_rank", "--", mode, str(out)]
        # Its own session: the stdin watch kills the launcher's whole process group, not pytest.
        return subprocess.Popen(cmd, env=env, start_new_session=True, **kw)

    def ranks(n: int, timeout: float = 60) -> list[dict]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            files = sorted(out.glob("rank-*.json"))
            if len(files) == n:
                try:
                    return [json.loads(f.read_text()) for f in files]
                except json.JSONDecodeError:
                    pass  # a rank is still writing its file
            time.sleep(0.05)
        raise AssertionError(f"{n} ranks did not start")

    return start, ranks


def alive(pid: int, wait: float = 5) -> bool:
    """Whether pid is still running after up to `wait` s (a zombie no one reaped yet counts as gone)."""
    end = time.monotonic() + wait
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state in ("Z", "X"):
            return False
        if time.monotonic() > end:
            return True
        time.sleep(0.05)


def test_ranks_get_their_rank_world_and_one_rendezvous(fake):
    start, ranks = fake
    assert start("ok", "--nproc-per-node", "2").wait(60) == 0
    r = ranks(2)
    assert [(x["RANK"], x["LOCAL_RANK"], x["WORLD_SIZE"], x["LOCAL_WORLD_SIZE"]) for x in r] == [("0", "0", "2", "2"), ("1", "1", "2", "2")]
    assert r[0]["MASTER_ADDR"] == r[1]["MASTER_ADDR"] == "127.0.0.1"
    assert r[0]["MASTER_PORT"] == r[1]["MASTER_PORT"] != "0"
    assert r[0]["OMP_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))


def test_second_node_ranks_follow_the_first_nodes(fake):
    start, ranks = fake
    p = start("ok", "--nnodes", "2", "--node-rank", "1", "--nproc-per-node", "2", "--master-addr", "head", "--master-port", "29511")
    assert p.wait(60) == 0
    assert [(x["RANK"], x["LOCAL_RANK"], x["WORLD_SIZE"], x["MASTER_ADDR"], x["MASTER_PORT"]) for x in ranks(2)] == [
        ("2", "0", "4", "head", "29511"), ("3", "1", "4", "head", "29511")]


def test_one_process_alone_gets_no_distributed_environment(fake):
    start, ranks = fake
    assert start("ok").wait(60) == 0
    assert [x["WORLD_SIZE"] for x in ranks(1)] == [None]


def test_bad_arguments_exit_2_naming_the_option(fake):
    start, _ = fake
    p = start("ok", "--nnodes", "2", stderr=subprocess.PIPE, text=True)
    assert p.wait(60) == 2
    assert "--master-port is required with several nodes" in p.stderr.read()


def test_a_failing_rank_stops_the_others_and_gives_its_exit_code(fake):
    start, ranks = fake
    p = start("fail-rank-1", "--nproc-per-node", "2")
    assert p.wait(60) == 3  # rank 0 would otherwise wait 120 s
    assert not alive(ranks(2)[0]["pid"])


def test_a_rank_killed_by_a_signal_is_the_cause(fake):
    start, ranks = fake
    p = start("sleep", "--nproc-per-node", "2")
    r = ranks(2)
    os.kill(r[1]["pid"], signal.SIGKILL)
    assert p.wait(60) == -signal.SIGKILL
    assert not alive(r[0]["pid"])


def test_sigterm_is_passed_on_and_ranks_that_checkpoint_and_exit_0_make_it_exit_0(fake):
    start, ranks = fake
    p = start("term", "--nproc-per-node", "2")
    ranks(2)
    p.send_signal(signal.SIGTERM)  # the launcher only, as Kubernetes signals a container's first process
    assert p.wait(60) == 0


def test_end_of_stdin_stops_the_ranks_and_kills_what_ignores_sigterm_after_the_grace(fake):
    start, ranks = fake
    p = start("stubborn", "--nproc-per-node", "2", "--watch-stdin", "--grace", "0.5", stdin=subprocess.PIPE)
    r = ranks(2)
    p.stdin.close()
    assert p.wait(60) == -signal.SIGKILL
    assert not any(alive(x["pid"]) for x in r)
