import { readFile } from "node:fs/promises";
import { BatchV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import type { Backend, Dispatch, JobState } from "./types.js";
import { jobName, kubernetesManifests, type KubernetesOptions } from "./kubernetes-manifests.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function describe(e: unknown): string {
  const err = e as { code?: number; body?: unknown; message?: string; cause?: { code?: string } };
  if (err.code && typeof err.code === "number") {
    const body = typeof err.body === "string" ? safe(err.body) : err.body;
    return `HTTP ${err.code}: ${(body as { message?: string })?.message ?? err.message}`;
  }
  return err.cause?.code ? `${err.cause.code} (${err.message})` : (err.message ?? String(e));
}
function safe(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return { message: s };
  }
}

/**
 * Kubernetes through its API (@kubernetes/client-node): one Indexed Job per attempt plus its
 * Service, Secret and ConfigMap, all owned by the Job so deleting the Job removes everything.
 * The dataset versions must be on s3:// (pods cannot read the launcher's disk).
 */
export class KubernetesBackend implements Backend {
  readonly name = "kubernetes";
  readonly survivesLauncher = true;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;

  constructor(
    private readonly opts: KubernetesOptions,
    kc: KubeConfig = (() => {
      const k = new KubeConfig();
      k.loadFromDefault();
      return k;
    })(),
  ) {
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async submit(d: Dispatch): Promise<string> {
    const spec = JSON.parse(await readFile(d.specPath, "utf8")) as Record<string, unknown>;
    const m = kubernetesManifests(d, spec, this.opts);
    const namespace = this.opts.namespace;
    let created;
    try {
      created = await this.batch.createNamespacedJob({ namespace, body: m.job as never });
    } catch (e) {
      throw new Error(`the Kubernetes API refused or could not be reached: ${describe(e)}`);
    }
    const owner = [{ apiVersion: "batch/v1", kind: "Job", name: m.job.metadata.name, uid: created.metadata!.uid!, controller: true }];
    try {
      await this.core.createNamespacedSecret({ namespace, body: { ...m.secret, metadata: { ...m.secret.metadata, ownerReferences: owner } } as never });
      await this.core.createNamespacedConfigMap({ namespace, body: { ...m.configMap, metadata: { ...m.configMap.metadata, ownerReferences: owner } } as never });
      await this.core.createNamespacedService({ namespace, body: { ...m.service, metadata: { ...m.service.metadata, ownerReferences: owner } } as never });
    } catch (e) {
      await this.cancel(m.job.metadata.name).catch(() => undefined); // no half-created job left behind
      throw new Error(`creating the job's Secret/ConfigMap/Service failed: ${describe(e)}`);
    }
    return m.job.metadata.name;
  }

  async poll(handle: string): Promise<JobState> {
    let job;
    try {
      job = await this.batch.readNamespacedJobStatus({ name: handle, namespace: this.opts.namespace });
    } catch (e) {
      if ((e as { code?: number }).code === 404) return { state: "exited", exitCode: null, preempted: true, reason: `Kubernetes Job ${handle} was deleted outside tokenmill` };
      throw e; // transient: the launcher's next poll tries again
    }
    const cond = (t: string) => job.status?.conditions?.find((c) => c.type === t && c.status === "True");
    if (cond("Complete")) return { state: "exited", exitCode: 0, preempted: false, reason: `Kubernetes Job ${handle} complete` };
    const failed = cond("Failed");
    if (failed) {
      const disrupted = /Disruption|Evict|Preempt|NodeLost|DeadlineExceeded/i.test(`${failed.reason} ${failed.message}`);
      return { state: "exited", exitCode: disrupted ? null : 1, preempted: disrupted, reason: `Kubernetes Job ${handle} failed: ${failed.reason ?? ""} ${failed.message ?? ""}`.trim() };
    }
    return (job.status?.ready ?? job.status?.active ?? 0) > 0 ? { state: "running" } : { state: "pending" };
  }

  async cancel(handle: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name: handle, namespace: this.opts.namespace, propagationPolicy: "Foreground" });
    } catch (e) {
      if ((e as { code?: number }).code === 404) return;
      throw new Error(`deleting Kubernetes Job ${handle} failed: ${describe(e)}`);
    }
    for (let i = 0; i < 120; i++) {
      try {
        await this.batch.readNamespacedJobStatus({ name: handle, namespace: this.opts.namespace });
      } catch {
        return;
      }
      await sleep(1000);
    }
  }
}

export { jobName };
