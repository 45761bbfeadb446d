import { procsPerNode, type Dispatch } from "./types.js";

export interface KubernetesOptions {
  namespace: string;
  /** The trainer image (infra/trainer.Dockerfile), e.g. ghcr.io/org/tokenmill-trainer:0.1.0. */
  image: string;
  /** Python inside the image (default "python"). */
  python?: string;
  /** A PersistentVolumeClaim (ReadWriteMany) mounted at /ckpt for checkpoints and logs; without it an emptyDir (no resume across attempts). */
  checkpointClaim?: string;
  /** Secret whose keys become env vars (S3 credentials for s3:// dataset versions), e.g. tokenmill-s3. */
  envFromSecret?: string;
  serviceAccountName?: string;
  /** Extra pod labels / node selector / tolerations for GPU nodes. */
  nodeSelector?: Record<string, string>;
  tolerations?: { key: string; operator: "Exists" | "Equal"; value?: string; effect?: string }[];
  priorityClassName?: string;
}

export const MOUNT_SPEC = "/etc/tokenmill";
export const MOUNT_CKPT = "/ckpt";

/** DNS-1123 names: one Job (and its Service, Secret, ConfigMap) per attempt of a run. */
export const jobName = (runId: string, attempt: number) => `tokenmill-${runId.slice(0, 8)}-${attempt}`;

/** The job spec as the pods see it: checkpoints and output under the /ckpt volume. */
export function podSpecJson(spec: Record<string, unknown>, runId: string): string {
  const dir = `${MOUNT_CKPT}/${runId}`;
  return JSON.stringify({ ...spec, checkpoint: { ...(spec.checkpoint as object), dir: `${dir}/checkpoints` }, output_dir: dir });
}

/**
 * The manifests of one attempt: an Indexed Job with one pod per node running tokenmill_trainer.launch (node rank =
 * completion index, rendezvous on pod 0 through a headless Service), the run token as a Secret, the
 * job spec as a ConfigMap. backoffLimit 0 plus a podFailurePolicy fail the whole Job as soon as one
 * rank exits non-zero (the launcher owns retries, with separate budgets); pods evicted by a
 * disruption (preemption, node drain) fail it too, and the launcher counts that as a preemption.
 */
export function kubernetesManifests(d: Dispatch, spec: Record<string, unknown>, o: KubernetesOptions) {
  const name = jobName(d.runId, d.attempt);
  const r = d.resources;
  const procs = procsPerNode(r);
  const labels = { "app.kubernetes.io/name": "tokenmill-trainer", "app.kubernetes.io/managed-by": "tokenmill-launcher", "tokenmill.dev/run-id": d.runId, "tokenmill.dev/attempt": String(d.attempt) };
  const secretEnv = Object.keys(d.env).filter((k) => k === "TOKENMILL_RUN_TOKEN" || /SECRET|TOKEN|KEY/.test(k));
  const plainEnv = Object.entries(d.env).filter(([k]) => !secretEnv.includes(k));
  const limits: Record<string, string> = {
    ...(r.gpus_per_node > 0 ? { "nvidia.com/gpu": String(r.gpus_per_node) } : {}),
    ...(r.cpus_per_node ? { cpu: String(r.cpus_per_node) } : {}),
    ...(r.memory_gb ? { memory: `${Math.ceil(r.memory_gb * 1024)}Mi` } : {}),
  };
  // tokenmill_trainer.launch, the container's first process, starts the node's ranks; the pod's
  // SIGTERM (preemption, drain) is passed on to them, they checkpoint and exit 0.
  const launch = [
    o.python ?? "python", "-m", "tokenmill_trainer.launch",
    `--nnodes=${r.nodes}`, `--nproc-per-node=${procs}`, "--node-rank=$(JOB_COMPLETION_INDEX)",
    `--master-addr=${name}-0.${name}`, "--master-port=29500",
    "--", "--spec", `${MOUNT_SPEC}/job.json`,
  ];
  const job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: o.namespace, labels },
    spec: {
      completionMode: "Indexed",
      completions: r.nodes,
      parallelism: r.nodes,
      backoffLimit: 0,
      podFailurePolicy: {
        rules: [
          { action: "FailJob", onExitCodes: { containerName: "trainer", operator: "NotIn", values: [0] } },
          { action: "FailJob", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        ],
      },
      ...(r.time_limit_s ? { activeDeadlineSeconds: r.time_limit_s } : {}),
      ttlSecondsAfterFinished: 24 * 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          subdomain: name,
          ...(o.serviceAccountName ? { serviceAccountName: o.serviceAccountName } : {}),
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          ...(o.tolerations ? { tolerations: o.tolerations } : {}),
          ...(o.priorityClassName ? { priorityClassName: o.priorityClassName } : {}),
          // SIGTERM → the trainer checkpoints; give it time before SIGKILL.
          terminationGracePeriodSeconds: r.signal_lead_s ?? 120,
          containers: [
            {
              name: "trainer",
              image: o.image,
              command: launch,
              env: [
                { name: "PYTHONUNBUFFERED", value: "1" },
                ...plainEnv.map(([k, v]) => ({ name: k, value: v })),
                ...secretEnv.map((k) => ({ name: k, valueFrom: { secretKeyRef: { name, key: k } } })),
              ],
              ...(o.envFromSecret ? { envFrom: [{ secretRef: { name: o.envFromSecret } }] } : {}),
              ports: [{ name: "rendezvous", containerPort: 29500 }],
              resources: Object.keys(limits).length ? { limits, requests: limits } : {},
              volumeMounts: [
                { name: "spec", mountPath: MOUNT_SPEC, readOnly: true },
                { name: "ckpt", mountPath: MOUNT_CKPT },
                { name: "shm", mountPath: "/dev/shm" },
              ],
            },
          ],
          volumes: [
            { name: "spec", configMap: { name } },
            o.checkpointClaim ? { name: "ckpt", persistentVolumeClaim: { claimName: o.checkpointClaim } } : { name: "ckpt", emptyDir: {} },
            { name: "shm", emptyDir: { medium: "Memory" } },
          ],
        },
      },
    },
  };
  const service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: o.namespace, labels },
    spec: { clusterIP: "None", selector: { "job-name": name }, ports: [{ name: "rendezvous", port: 29500, targetPort: 29500 }], publishNotReadyAddresses: true },
  };
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: o.namespace, labels },
    type: "Opaque",
    stringData: Object.fromEntries(secretEnv.map((k) => [k, d.env[k]!])),
  };
  const configMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: o.namespace, labels },
    data: { "job.json": podSpecJson(spec, d.runId) },
  };
  return { job, service, secret, configMap };
}
