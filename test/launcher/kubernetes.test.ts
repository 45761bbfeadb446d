import { describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { KubeConfig, KubernetesBackend, kubernetesManifests, sbatchScript, type Dispatch } from "@tokenmill/launcher";

/**
 * The Kubernetes backend without a cluster: the generated manifests are validated against the
 * Kubernetes OpenAPI schema (kubernetes-models' ajv validators generated from the API's OpenAPI
 * document), and an unreachable API server fails a submit with a clear message.
 */
const dispatch = (over: Partial<Dispatch> = {}): Dispatch => ({
  runId: "0f8e2c1a-1111-4222-8333-944445555666",
  attempt: 2,
  specPath: "/unused/job.json",
  workDir: "/unused",
  logPath: "/unused/trainer.log",
  env: { TOKENMILL_RUN_TOKEN: "tm_secret_value", AWS_ENDPOINT_URL: "https://s3.example" },
  resources: { nodes: 2, gpus_per_node: 8, cpus_per_node: 32, memory_gb: 256, time_limit_s: 7200 },
  ...over,
});
const spec = { spec_version: 1, run_id: "r", checkpoint: { dir: "/local/ckpt", every_steps: 1000 }, output_dir: "/local", progress: { endpoint: "https://api.example/runs/r/progress" } };
const opts = { namespace: "training", image: "ghcr.io/example/tokenmill-trainer:0.1.0", checkpointClaim: "tokenmill-ckpt", envFromSecret: "tokenmill-s3" };

describe("kubernetes manifests", () => {
  it("are valid against the Kubernetes OpenAPI schema: Job, Service, Secret, ConfigMap", () => {
    for (const d of [dispatch(), dispatch({ resources: { nodes: 1, gpus_per_node: 0 } })]) {
      const m = kubernetesManifests(d, spec, opts);
      expect(() => new Job(m.job as never).validate()).not.toThrow();
      expect(() => new Service(m.service as never).validate()).not.toThrow();
      expect(() => new Secret(m.secret as never).validate()).not.toThrow();
      expect(() => new ConfigMap(m.configMap as never).validate()).not.toThrow();
    }
  });

  it("the validator catches a wrong manifest (so the check above can fail)", () => {
    const m = kubernetesManifests(dispatch(), spec, opts);
    expect(() => new Job({ ...m.job, spec: { ...m.job.spec, completions: "2" } } as never).validate()).toThrow(/completions/);
    expect(() => new Job({ ...m.job, spec: { ...m.job.spec, template: undefined } } as never).validate()).toThrow(/template/);
  });

  it("an Indexed Job with tokenmill_trainer.launch per node, fail-fast on any rank, the token only in a Secret", () => {
    const m = kubernetesManifests(dispatch(), spec, opts);
    const s = m.job.spec;
    expect([s.completionMode, s.completions, s.parallelism, s.backoffLimit, s.activeDeadlineSeconds]).toEqual(["Indexed", 2, 2, 0, 7200]);
    expect(s.podFailurePolicy.rules[0]).toMatchObject({ action: "FailJob", onExitCodes: { operator: "NotIn", values: [0] } });
    const c = s.template.spec.containers[0]!;
    expect(c.command).toEqual([
      "python", "-m", "tokenmill_trainer.launch", "--nnodes=2", "--nproc-per-node=8", "--node-rank=$(JOB_COMPLETION_INDEX)",
      `--master-addr=${m.job.metadata.name}-0.${m.job.metadata.name}`, "--master-port=29500", "--", "--spec", "/etc/tokenmill/job.json",
    ]);
    expect(s.template.spec.subdomain).toBe(m.service.metadata.name);
    expect(c.resources).toEqual({ limits: { "nvidia.com/gpu": "8", cpu: "32", memory: "262144Mi" }, requests: { "nvidia.com/gpu": "8", cpu: "32", memory: "262144Mi" } });
    expect(c.env).toContainEqual({ name: "TOKENMILL_RUN_TOKEN", valueFrom: { secretKeyRef: { name: m.secret.metadata.name, key: "TOKENMILL_RUN_TOKEN" } } });
    expect(JSON.stringify(m.job) + JSON.stringify(m.configMap)).not.toContain("tm_secret_value");
    expect(m.secret.stringData.TOKENMILL_RUN_TOKEN).toBe("tm_secret_value");
    const podSpec = JSON.parse(m.configMap.data["job.json"]);
    expect(podSpec.checkpoint.dir).toBe(`/ckpt/${dispatch().runId}/checkpoints`);
  });
});

describe("the checkpoint lead of a run (resources.signal_lead_s)", () => {
  const base = dispatch().resources;
  it("is a pod's grace between SIGTERM and SIGKILL on Kubernetes (120 s unless given)", () => {
    const grace = (r: Dispatch["resources"]) => kubernetesManifests(dispatch({ resources: r }), spec, opts).job.spec.template.spec.terminationGracePeriodSeconds;
    expect(grace(base)).toBe(120);
    expect(grace({ ...base, signal_lead_s: 900 })).toBe(900);
  });

  it("is Slurm's --signal lead before the time limit (the backend's unless given, at most half the limit)", () => {
    const script = (r: Dispatch["resources"], backendLead?: number) =>
      sbatchScript(dispatch({ resources: r }), { python: "/venv/bin/python", ...(backendLead ? { signalBeforeLimitS: backendLead } : {}) });
    expect(script(base)).toContain("#SBATCH --time=120\n#SBATCH --signal=TERM@120\n");
    expect(script(base, 300)).toContain("#SBATCH --signal=TERM@300\n");
    expect(script({ ...base, signal_lead_s: 900 }, 300)).toContain("#SBATCH --signal=TERM@900\n");
    expect(script({ ...base, time_limit_s: 600, signal_lead_s: 900 })).toContain("#SBATCH --time=10\n#SBATCH --signal=TERM@300\n");
    expect(script({ ...base, time_limit_s: undefined, signal_lead_s: 900 })).not.toContain("--signal");
    // Two nodes of 8 GPUs: 16 tasks that Slurm starts itself, with their ranks from Slurm.
    expect(script(base)).toContain("#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=8\n#SBATCH --gpus-per-node=8\n#SBATCH --cpus-per-task=4\n");
  });
});

describe("kubernetes backend", () => {
  it("an unreachable API server fails the submit with the reason", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tokenmill-k8s-"));
    try {
      await writeFile(join(dir, "job.json"), JSON.stringify(spec));
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "nowhere", server: "https://127.0.0.1:9", skipTLSVerify: true }],
        users: [{ name: "u", token: "x" }],
        contexts: [{ name: "c", cluster: "nowhere", user: "u" }],
        currentContext: "c",
      });
      const backend = new KubernetesBackend(opts, kc);
      await expect(backend.submit(dispatch({ specPath: join(dir, "job.json") }))).rejects.toThrow(/Kubernetes API refused or could not be reached: .*ECONNREFUSED/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
