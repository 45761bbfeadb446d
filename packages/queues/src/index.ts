import { Queue, FlowProducer, type ConnectionOptions, type JobsOptions } from "bullmq";
import { Redis } from "ioredis";
import { CURATION_QUEUE, type JobDefinition } from "@tokenmill/domain";

/**
 * BullMQ plumbing shared by the API (producer) and the workers, driven by the job catalog in
 * @tokenmill/domain so names, payloads and retry defaults are declared once.
 */
export interface QueueConfig {
  redisUrl: string;
  /** BullMQ key prefix; tests use a unique one each so they never see each other's jobs. */
  prefix: string;
}

/**
 * BullMQ ships its own nested copy of ioredis, whose class is nominally different from ours even at
 * the same version; the cast is safe because BullMQ only calls the public client API.
 */
export function asBullConnection(redis: Redis): ConnectionOptions {
  return redis as unknown as ConnectionOptions;
}

export function redisConnection(url: string): Redis {
  // maxRetriesPerRequest: null is required by BullMQ workers (blocking commands must not time out).
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
}

export interface Queues {
  curation: Queue;
  flows: FlowProducer;
  connection: Redis;
  prefix: string;
  close(): Promise<void>;
}

export function createQueues(config: QueueConfig): Queues {
  const connection = redisConnection(config.redisUrl);
  const opts = { connection: asBullConnection(connection), prefix: config.prefix };
  const curation = new Queue(CURATION_QUEUE, opts);
  const flows = new FlowProducer(opts);
  return {
    curation,
    flows,
    connection,
    prefix: config.prefix,
    async close() {
      await curation.close();
      await flows.close();
      connection.disconnect();
    },
  };
}

/** Job options from a catalog entry, with a deterministic job id so re-adding is a no-op. */
export function jobOptions<P>(def: JobDefinition<P>, jobId: string, extra: JobsOptions = {}): JobsOptions {
  return { ...def.defaults, jobId, ...extra };
}

/** Adds a job after parsing its payload with the catalog's parser. */
export async function enqueue<P>(queue: Queue, def: JobDefinition<P>, payload: P, jobId: string): Promise<void> {
  def.parse(payload);
  await queue.add(def.name, payload, jobOptions(def, jobId));
}
