import { getFastTextModule } from "fasttext.wasm.js";

/**
 * The real fastText (C++ compiled to WebAssembly, from the npm package fasttext.wasm.js, the same
 * build that runs lid.176) used to train and run supervised classifiers. The package's own
 * `trainSupervised` fetches its input over HTTP; here the training file is written straight into
 * the module's in-memory file system and the native `train` is called with one thread, so a fixed
 * seed and input give the same model bytes.
 */

interface Vec<T> {
  size(): number;
  get(i: number): T;
  delete?(): void;
}
interface NativeFastText {
  train(args: unknown, callback: (...a: unknown[]) => void): void;
  loadModel(path: string): void;
  saveModel(path: string): void;
  predict(text: string, k: number, threshold: number): Vec<[number, string]>;
  delete?(): void;
}
interface FsLike {
  writeFile(path: string, data: string | Uint8Array): void;
  readFile(path: string): Uint8Array;
  unlink(path: string): void;
}
interface FastTextModule {
  FastText: new () => NativeFastText;
  Args: new () => Record<string, unknown>;
  ModelName: Record<string, unknown>;
  LossName: Record<string, unknown>;
  FS: FsLike;
}

/**
 * A fresh WebAssembly instance (its own memory and file system) for every training and every loaded
 * model: training twice in one instance, or after a load, fails intermittently inside the native
 * code, and separate instances also let each model's memory go with its last reference.
 */
function fastTextModule(): Promise<FastTextModule> {
  return getFastTextModule() as unknown as Promise<FastTextModule>;
}

let seq = 0;
const tmpPath = (what: string) => `/tokenmill-${process.pid}-${++seq}.${what}`;

export interface FastTextTrainArgs {
  dim: number;
  epoch: number;
  lr: number;
  wordNgrams: number;
  bucket: number;
  minCount: number;
  seed: number;
}

/** Trains a supervised softmax model on fastText-format lines (`__label__x text`); returns the `.bin` bytes. */
export async function fastTextTrain(lines: string[], a: FastTextTrainArgs): Promise<Uint8Array> {
  const m = await fastTextModule();
  const input = tmpPath("txt");
  const output = tmpPath("bin");
  m.FS.writeFile(input, lines.join("\n") + "\n");
  const ft = new m.FastText();
  try {
    const args = new m.Args();
    Object.assign(args, { ...a, minCountLabel: 0, verbose: 0 });
    args.model = m.ModelName.supervised;
    args.loss = m.LossName.softmax;
    args.thread = 1;
    args.input = input;
    // The binding calls the callback from the training loop; a null one crashes it.
    ft.train(args, () => {});
    ft.saveModel(output);
    return new Uint8Array(m.FS.readFile(output));
  } finally {
    ft.delete?.();
    for (const p of [input, output]) {
      try {
        m.FS.unlink(p);
      } catch {
        /* absent */
      }
    }
  }
}

export interface FastTextPredictor {
  /** Probability of each label (without the `__label__` prefix) for one line of text. */
  probabilities(text: string): Map<string, number>;
  dispose(): void;
}

/** Loads a fastText `.bin` model from bytes. */
export async function fastTextLoad(bin: Uint8Array): Promise<FastTextPredictor> {
  const m = await fastTextModule();
  const path = tmpPath("bin");
  m.FS.writeFile(path, bin);
  const ft = new m.FastText();
  try {
    ft.loadModel(path);
  } finally {
    m.FS.unlink(path);
  }
  return {
    probabilities(text) {
      const v = ft.predict(text, -1, 0);
      const out = new Map<string, number>();
      try {
        for (let i = 0; i < v.size(); i++) {
          const [p, label] = v.get(i);
          out.set(label.replace("__label__", ""), p);
        }
      } finally {
        v.delete?.();
      }
      return out;
    },
    dispose() {
      ft.delete?.();
    },
  };
}
