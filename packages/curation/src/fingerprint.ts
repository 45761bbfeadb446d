import { CURATION_CODE_VERSION, datasetFingerprint, pipelineHash, type InputIdentity, type PipelineSpec, type TokenizerInfo } from "@tokenmill/domain";
import { pinClassifiers, type ClassifierReader } from "./classifier/store.js";
import { pipelineTokenizer } from "./tokenizer.js";

/** What a curation needs before its tasks run, the same in the service and in local mode. */
export interface PlannedCuration {
  /** The dataset version's fingerprint: inputs, pipeline, tokenizer, code version, reader and models. */
  fingerprint: string;
  /** The spec the tasks run: classifier references pinned to name@version. */
  spec: PipelineSpec;
  tokenizer: TokenizerInfo;
}

/**
 * Pins the pipeline's classifiers and fingerprints the would-be dataset version. The service's
 * planner and `tokenmill curate` both call this, so the same inputs, pipeline and reader options
 * give the same fingerprint (and byte-identical shards) either way.
 */
export async function planCuration(spec: PipelineSpec, inputs: InputIdentity[], reader: Record<string, string>, store: ClassifierReader): Promise<PlannedCuration> {
  const tokenizer = (await pipelineTokenizer(spec)).info;
  // Classifiers by content: the fingerprint covers the model bytes, the tasks load the same version.
  const pinned = await pinClassifiers(spec, store);
  const fingerprint = datasetFingerprint({
    inputs,
    pipelineHash: pipelineHash(spec),
    tokenizer: { id: tokenizer.id, vocab_sha256: tokenizer.vocab_sha256 },
    codeVersion: CURATION_CODE_VERSION,
    reader,
    ...(pinned.models.length > 0 ? { models: pinned.models } : {}),
  });
  return { fingerprint, spec: pinned.spec, tokenizer };
}
