import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./support.js";

const exec = promisify(execFile);

/**
 * Starts the real single-node Slurm on loopback (infra/slurm/start.sh installs Debian's slurm-wlm +
 * munge as root and starts munged, slurmctld and slurmd; a no-op when it is up). Returns "" when it
 * runs, else why not, and warns that `what` will be skipped: machines without root or apt skip the
 * Slurm tests and say so.
 */
export async function startSlurm(what: string): Promise<string> {
  try {
    await exec("bash", [join(ROOT, "infra/slurm/start.sh")], { timeout: 300_000 });
    return "";
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const why = (err.stderr || err.message).trim().split("\n").slice(-3).join(" / ");
    console.warn(`SKIPPING ${what}: a single-node Slurm could not be started (${why})`);
    return why;
  }
}

/** A job's state as `scontrol show job` reports it (RUNNING, COMPLETED, CANCELLED …). */
export const jobState = async (id: string): Promise<string | undefined> =>
  /JobState=(\S+)/.exec((await exec("scontrol", ["show", "job", "-o", id])).stdout)?.[1];
