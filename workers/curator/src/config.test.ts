import { describe, expect, it } from "vitest";
import { availableParallelism } from "node:os";
import { ValidationError } from "@tokenmill/domain";
import { loadCuratorConfig } from "./config.js";

describe("PROCESSES", () => {
  it("defaults to one process (the worker itself, no supervisor)", () => {
    expect(loadCuratorConfig({}).processes).toBe(1);
    expect(loadCuratorConfig({ PROCESSES: "" }).processes).toBe(1);
  });

  it("takes a positive integer or auto (the cores this process may use)", () => {
    expect(loadCuratorConfig({ PROCESSES: "2" }).processes).toBe(2);
    expect(loadCuratorConfig({ PROCESSES: " 3 " }).processes).toBe(3);
    expect(loadCuratorConfig({ PROCESSES: "auto" }).processes).toBe(availableParallelism());
    expect(loadCuratorConfig({ PROCESSES: "AUTO" }).processes).toBe(availableParallelism());
  });

  it.each(["0", "abc", "-1", "1.5", "2x", "1e3"])("rejects %j with an error naming the variable", (raw) => {
    let error: unknown;
    try {
      loadCuratorConfig({ PROCESSES: raw });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe("PROCESSES");
    expect((error as Error).message).toContain(`PROCESSES: must be an integer >= 1 or "auto", got "${raw}"`);
  });
});

describe("RUN_STALL_TIMEOUT_S", () => {
  it("defaults to 30 minutes and takes whole seconds", () => {
    expect(loadCuratorConfig({}).runStallTimeoutMs).toBe(1_800_000);
    expect(loadCuratorConfig({ RUN_STALL_TIMEOUT_S: "90" }).runStallTimeoutMs).toBe(90_000);
  });

  it.each(["0", "-5", "soon"])("rejects %j naming the variable", (raw) => {
    expect(() => loadCuratorConfig({ RUN_STALL_TIMEOUT_S: raw })).toThrow(/^RUN_STALL_TIMEOUT_S: must be/);
  });
});
