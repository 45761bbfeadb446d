import { readFile } from "node:fs/promises";
import { join } from "node:path";

export const TRAIN_LOG = "train.log.jsonl";

/**
 * What the trainer logged in one attempt (its JSON-line log from byte `from` on; of the last trainer
 * start when the scheduler requeued the job within the attempt): `done` when it reached its last
 * step, `preempted` (with the step) when it stopped at a checkpoint on SIGTERM.
 */
export async function attemptOutcome(workDir: string, from: number): Promise<{ done: boolean; preemptedAt?: number }> {
  let text: string;
  try {
    text = (await readFile(join(workDir, TRAIN_LOG))).subarray(from).toString("utf8");
  } catch {
    return { done: false };
  }
  let done = false;
  let preemptedAt: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const ev = JSON.parse(line) as { event?: string; step?: number };
      // A job the scheduler requeued ran the trainer again within this attempt: the last run decides.
      if (ev.event === "start") {
        done = false;
        preemptedAt = undefined;
      }
      if (ev.event === "done") done = true;
      if (ev.event === "preempted") preemptedAt = ev.step ?? 0;
    } catch {
      // a line cut short by a kill: the events before it still count
    }
  }
  return { done, ...(preemptedAt !== undefined ? { preemptedAt } : {}) };
}

/** The last meaningful line of the trainer's output (a Python error, usually), for the run's reason. */
export async function logTail(path: string): Promise<string> {
  try {
    // Skips JSON log lines and the launcher's and Slurm's own chatter around the trainer's message.
    const lines = (await readFile(path, "utf8")).trim().split("\n").filter((l) => l.trim() && !l.startsWith("{") && !/^(srun|slurmstepd|sbatch|tokenmill):/.test(l));
    return (lines.at(-1) ?? "").slice(0, 500);
  } catch {
    return "";
  }
}
