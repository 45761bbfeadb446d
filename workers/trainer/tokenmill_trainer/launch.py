"""Starts the trainer's ranks on one node: what torchrun does for us, without its signal handling.

    python -m tokenmill_trainer.launch [--nnodes N --node-rank R --master-addr HOST --master-port P]
        [--nproc-per-node K] [--watch-stdin --grace S] -- --spec job.json

Each of the K processes runs ``python -m tokenmill_trainer.train`` with RANK (node_rank·K + i),
LOCAL_RANK (i), WORLD_SIZE (N·K), LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT for torch's env://
rendezvous (rank 0 listens on MASTER_PORT; one node alone gets a free loopback port), and its share of
the node's cores in OMP_NUM_THREADS unless that is set.

Why not torchrun: torchrun takes SIGTERM as its own death — it gives the ranks 30 s, kills them
whatever they are writing and exits non-zero, so a preemption's checkpoint counts as a failure and a
large one is cut short. Here SIGTERM and SIGINT are passed on to every rank, which finish their step,
agree on it, checkpoint and exit 0; the launcher then exits 0 too. When one rank fails or is killed,
the others are killed at once (they would wait in their next collective forever), and the launcher
exits as that rank did: the signal of one killed by a signal (the cause; the others then fail because
their peer vanished), else the first non-zero code.

``--watch-stdin``: the process that started this one holds our stdin; end of file means it is gone
(killed, even with kill -9), so no one watches the run any more: SIGTERM to the ranks, and after
``--grace`` seconds SIGKILL to this whole process group.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tokenmill_trainer.launch", description=__doc__.split("\n", 1)[0])
    p.add_argument("--nproc-per-node", type=int, default=1, help="ranks on this node (one per GPU)")
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--node-rank", type=int, default=0)
    p.add_argument("--master-addr", default="127.0.0.1", help="host of rank 0")
    p.add_argument("--master-port", type=int, default=0, help="port of rank 0 (0: a free loopback port; one node only)")
    p.add_argument("--watch-stdin", action="store_true", help="stop the ranks when stdin reaches end of file")
    p.add_argument("--grace", type=float, default=30.0, help="seconds from SIGTERM to SIGKILL with --watch-stdin")
    p.add_argument("--module", default="tokenmill_trainer.train", help="the module each rank runs")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments of the trainer, after --")
    a = p.parse_args(argv)
    if a.args and a.args[0] == "--":
        a.args = a.args[1:]
    if a.nproc_per_node < 1 or a.nnodes < 1:
        p.error("--nproc-per-node and --nnodes must be at least 1")
    if not 0 <= a.node_rank < a.nnodes:
        p.error(f"--node-rank must be in [0, {a.nnodes}), got {a.node_rank}")
    if a.nnodes > 1 and a.master_port == 0:
        p.error("--master-port is required with several nodes")
    return a


def rank_envs(a: argparse.Namespace, base: dict[str, str]) -> list[dict[str, str]]:
    k, world = a.nproc_per_node, a.nnodes * a.nproc_per_node
    if world == 1:
        return [dict(base)]
    port = a.master_port
    if port == 0:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    common = dict(base, MASTER_ADDR=a.master_addr, MASTER_PORT=str(port), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(k))
    if k > 1:
        common.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // k)))
    return [dict(common, RANK=str(a.node_rank * k + i), LOCAL_RANK=str(i)) for i in range(k)]


def outcome(codes: list[int | None]) -> int | None:
    """The launcher's exit once a rank failed (a signal as a negative number), 0 when all succeeded, else None."""
    failed = [c for c in codes if c not in (None, 0)]
    if failed:
        return min(failed) if min(failed) < 0 else failed[0]
    return 0 if all(c == 0 for c in codes) else None


def main(argv: list[str] | None = None) -> int:
    a = parse_args(sys.argv[1:] if argv is None else argv)
    cmd = [sys.executable, "-m", a.module, *a.args]
    children: list[subprocess.Popen] = []

    def forward(signum, _frame):
        for c in children:
            if c.poll() is None:
                c.send_signal(signum)

    # Handlers, not SIG_IGN: the ranks start with the default action, until they install their own.
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, forward)
    children.extend(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env) for env in rank_envs(a, dict(os.environ)))

    if a.watch_stdin:
        def watch():
            while os.read(0, 4096):
                pass
            forward(signal.SIGTERM, None)
            end = time.monotonic() + a.grace
            while time.monotonic() < end and any(c.poll() is None for c in children):
                time.sleep(0.1)
            os.killpg(0, signal.SIGKILL)

        threading.Thread(target=watch, daemon=True).start()

    while (code := outcome([c.poll() for c in children])) is None:
        time.sleep(0.1)
    for c in children:
        if c.poll() is None:
            c.kill()
    for c in children:
        c.wait()
    if code < 0:
        if -code not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught, nor their handler set
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main())
