"""Learning-rate schedule: linear warmup from 0, then linear or cosine decay to min_lr_ratio·peak.

A pure function of the step, so the schedule's whole state in a checkpoint is the step number.
"""

from __future__ import annotations

import math


def lr_at(step: int, *, peak: float, warmup_steps: int, total_steps: int, decay: str = "linear",
          min_lr_ratio: float = 0.1) -> float:
    """LR for optimizer step `step` (0-based: the first update uses lr_at(0))."""
    if warmup_steps and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    floor = peak * min_lr_ratio
    if decay == "constant" or total_steps <= warmup_steps:
        return peak
    frac = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps - 1))
    if decay == "linear":
        return peak - (peak - floor) * frac
    if decay == "cosine":
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * frac))
    raise ValueError(f"schedule.decay: unknown {decay!r}")
