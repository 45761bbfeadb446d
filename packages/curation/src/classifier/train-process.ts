import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ValidationError } from "@tokenmill/domain";
import type { Example, TrainConfig, TrainResult } from "./model.js";

const CHILD = fileURLToPath(new URL("./train-child.ts", import.meta.url));

let queue: Promise<unknown> = Promise.resolve();

/**
 * trainClassifier in a child process, one training at a time per process: fastText trains
 * synchronously, so run inside a server it would stall every other request for the whole training.
 * A validation error in the child comes back as the same ValidationError.
 */
export function trainClassifierInChild(examples: Example[], config: TrainConfig): Promise<TrainResult> {
  const run = queue.then(() => trainOnce(examples, config));
  queue = run.catch(() => undefined);
  return run;
}

function trainOnce(examples: Example[], config: TrainConfig): Promise<TrainResult> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], { execArgv: ["--import", "tsx"], serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let settled = false;
    child.once("message", (msg: { ok: true; result: TrainResult } | { ok: false; name: string; message: string; field?: string }) => {
      settled = true;
      if (msg.ok) resolve({ ...msg.result, bytes: new Uint8Array(msg.result.bytes) });
      else reject(msg.name === "ValidationError" ? new ValidationError(msg.message, msg.field) : new Error(`classifier training failed: ${msg.message}`));
    });
    child.once("error", (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    child.once("exit", (code, signal) => {
      if (!settled) reject(new Error(`classifier training process exited (${signal ?? `code ${code}`}) without a result`));
      settled = true;
    });
    child.send({ examples, config });
  });
}
