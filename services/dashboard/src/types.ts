/** The API's response shapes the dashboard reads (see /openapi.json). */
export interface Page<T> {
  items: T[];
  total: number;
}

export interface StepView {
  step: string;
  docs_in: number;
  docs_out: number;
  dropped: Record<string, number>;
  /** Step-specific counts that are not drops (pii masks by kind, c4_quality lines removed by rule). */
  counters?: Record<string, number>;
}

export interface RunView {
  id: string;
  status: string;
  dataset_name: string;
  source_id: string;
  source_name: string;
  pipeline_id: string;
  pipeline_name: string;
  pipeline_version: number;
  fingerprint: string | null;
  store_uri: string | null;
  dataset_version_id: string | null;
  reused_version: boolean;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: { tasks_total: number; tasks_done: number; bytes_total: number; bytes_done: number; fraction: number };
  totals: { docs_in: number; docs_kept: number; docs_dropped: number; tokens_kept: number };
  steps: StepView[];
  failed_tasks: Array<{ index: number; input: string; error: string }>;
}

export interface DroppedDoc {
  doc_id: string;
  step: string;
  reason: string;
  detail: string | null;
  provenance: { source: string | null; file: string | null; line: number | null; byte_offset: number | null };
  text_head: string | null;
  object_key: string;
}

export interface VersionView {
  id: string;
  name: string;
  fingerprint: string;
  url: string;
  prefix: string;
  tokenizer: string;
  docs: number;
  tokens: number;
  bytes: number;
  shards: number;
  created_at: string;
  /** The curation run that wrote the version, null if it is gone. */
  run_id: string | null;
}

export interface ShardView {
  position: number;
  key: string;
  url: string;
  rows: number;
  tokens: number;
  bytes: number;
  sha256: string;
}

export interface QueueView {
  name: string;
  paused: boolean;
  counts: Record<string, number>;
  workers: Array<{ name: string; addr: string; age_s: number; idle_s: number }>;
}

export interface JobView {
  id: string;
  name: string;
  state: string;
  data: unknown;
  attempts_made: number;
  attempts: number;
  failed_reason: string | null;
  created_at: string;
  processed_at: string | null;
  finished_at: string | null;
}

export interface Session {
  name: string;
  scopes: string[];
}

export interface MixtureView {
  id: string;
  name: string;
  fingerprint: string;
  spec: unknown;
  plan: unknown;
  created_at: string;
}

export interface BudgetRow {
  phase: string;
  source: string;
  tokens: number;
  share: number;
  available_tokens: number | null;
  epochs: number | null;
}

export interface LedgerRow {
  stage: string;
  phase: string;
  source: string;
  planned: number;
  consumed: number;
  remaining: number;
  fraction: number;
}

export interface RunEventView {
  at: string;
  status: string;
  reason: string | null;
}

export interface TrainingRunView {
  id: string;
  experiment_id: string;
  stage: string;
  mixture_id: string;
  backend: string;
  status: string;
  reason: string | null;
  attempt: number;
  failures: number;
  preemptions: number;
  exit_code: number | null;
  external_id: string | null;
  progress: {
    step: number;
    total_steps: number | null;
    fraction: number;
    loss: number | null;
    lr: number | null;
    tokens_per_s: number | null;
    mfu: number | null;
    tokens_consumed: Record<string, number>;
    tokens_planned: number;
    eta_s: number | null;
  };
  events: RunEventView[];
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ProgressPoint {
  step: number;
  loss: number | null;
  lr: number | null;
  tokens_per_s: number | null;
  mfu: number | null;
  tokens_consumed: number;
  reports: number;
}

export interface ProgressHistory {
  run_id: string;
  total_steps: number | null;
  tokens_planned: number;
  reports: number;
  bucket: number;
  points: ProgressPoint[];
}

/** The parts of a mixture plan the experiment page reads (epochs and the max_epochs cap). */
export interface PlanLite {
  tokens: number;
  phases: Array<{ name: string; components: Array<{ name: string; tokens: number; max_epochs: number; available_tokens: number | null; epochs: number | null; cumulative_epochs: number | null }> }>;
}
