import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { superviseWorkers, type SupervisorOptions } from "./supervisor.js";

// Child processes are small plain scripts: each behaviour of the supervisor (restart, back-off,
// crash loop, drain, kill at the timeout) in well under a second per case. The real worker under a
// supervisor is tested in test/e2e/curator-processes.test.ts.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tokenmill-supervisor-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, body);
  return path;
}

function capture() {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ level: "debug" }, stream) };
}

/** Two workers running `modulePath`; each learns its slot, the ready-file folder and a name from env. */
function supervise(name: string, opts: Partial<SupervisorOptions> & Pick<SupervisorOptions, "modulePath" | "logger">) {
  const env = (k: number) => ({ ...process.env, SLOT: String(k), DIR: dir, NAME: name });
  return superviseWorkers({ processes: 2, execArgv: [], env, shutdownTimeoutMs: 10_000, ...opts });
}

async function until(what: string, cond: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A worker that marks itself ready (its SIGTERM handler installed) with a file, then idles.
const worker = (onTerm: string) => `
import { writeFileSync } from "node:fs";
import { join } from "node:path";
process.on("SIGTERM", () => { ${onTerm} });
process.on("disconnect", () => process.exit(0)); // never outlive the test
writeFileSync(join(process.env.DIR, process.env.NAME + "-" + process.env.SLOT + "-" + process.pid), "");
setInterval(() => {}, 1000);
`;
const ready = (name: string) => readdirSync(dir).filter((f) => f.startsWith(`${name}-`));

describe("superviseWorkers", () => {
  it("starts N workers with their own env, restarts one that dies, drains all on stop", async () => {
    const { lines, logger } = capture();
    const modulePath = await script("drain.mjs", worker("setTimeout(() => process.exit(0), 50)"));
    const sup = supervise("drain", { modulePath, logger, restartDelayMs: 50 });
    let files: string[] = [];
    await until("two workers ready", () => (files = ready("drain")).length === 2);
    expect(files.map((f) => f.split("-")[1]).sort()).toEqual(["1", "2"]);
    const [pid1, pid2] = sup.pids();
    expect(pid1).toBeGreaterThan(0);
    expect(pid2).toBeGreaterThan(0);

    process.kill(pid1!, "SIGKILL");
    await until("slot 1 restarted", () => ready("drain").length === 3);
    expect(sup.pids()[0]).not.toBe(pid1);
    expect(sup.pids()[1]).toBe(pid2);
    expect(lines.find((l) => l.msg.includes("restarting"))).toMatchObject({ slot: 1, childPid: pid1, signal: "SIGKILL", restartInMs: 50 });

    const live = sup.pids();
    sup.stop("SIGTERM");
    expect(await sup.done).toBe(0);
    for (const pid of live) expect(() => process.kill(pid!, 0)).toThrow(/ESRCH/);
    expect(lines.filter((l) => l.msg === "worker process exited").map((l) => l.code)).toEqual([0, 0]);
  });

  it("gives up with exit code 1 when a worker keeps dying, stopping the others", async () => {
    const { lines, logger } = capture();
    const good = await script("good.mjs", worker("process.exit(0)"));
    const bad = await script("bad.mjs", "process.exit(3);\n");
    // Slot 2 crashes at start-up, slot 1 runs normally.
    const modulePath = await script("switch.mjs", `await import(process.env.SLOT === "2" ? ${JSON.stringify(bad)} : ${JSON.stringify(good)});\n`);
    const loop = supervise("loop", { modulePath, logger, restartDelayMs: 10, maxRestarts: 3 });
    expect(await loop.done).toBe(1);
    const deaths = lines.filter((l) => l.msg.includes("restarting") && l.slot === 2);
    expect(deaths.map((l) => [l.code, l.restartInMs])).toEqual([
      [3, 10],
      [3, 20],
      [3, 40],
    ]);
    expect(lines.find((l) => l.msg.includes("crash-looping"))).toMatchObject({ slot: 2, code: 3, deaths: 4 });
    expect(lines.filter((l) => l.msg === "worker process exited" && l.slot === 1)).toHaveLength(1);
  });

  it("kills workers still draining at the timeout and settles with 1", async () => {
    const { lines, logger } = capture();
    const modulePath = await script("stuck.mjs", worker("/* keeps working */"));
    const sup = supervise("stuck", { modulePath, logger, shutdownTimeoutMs: 300 });
    await until("two workers ready", () => ready("stuck").length === 2);
    const live = sup.pids();
    sup.stop("SIGTERM");
    expect(await sup.done).toBe(1);
    expect(lines.find((l) => l.msg.includes("killing them"))).toMatchObject({ slots: [1, 2] });
    expect(lines.filter((l) => l.msg === "worker process exited").map((l) => l.signal)).toEqual(["SIGKILL", "SIGKILL"]);
    for (const pid of live) expect(() => process.kill(pid!, 0)).toThrow(/ESRCH/);
  });
});
