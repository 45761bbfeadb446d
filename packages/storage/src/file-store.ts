import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { NotFoundError, ValidationError } from "@tokenmill/domain";
import type { ObjectInfo, ObjectStore } from "./store.js";
import { checkKey, checkRange, pathToFileUri } from "./uri.js";

/** Temp files are `.<name>.tmp-<hex>` next to their target; list() skips them. */
const TEMP_FILE = /^\..+\.tmp-[0-9a-f]{16}$/;

/** An ObjectStore over a local directory; keys map to files under `root`. */
export class FileStore implements ObjectStore {
  readonly root: string;
  readonly uri: string;

  constructor(root: string) {
    if (!root.startsWith("/")) throw new ValidationError(`FileStore root must be an absolute path: ${root}`);
    this.root = resolve(root);
    this.uri = pathToFileUri(this.root);
  }

  url(key: string): string {
    return pathToFileUri(this.path(key));
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    await this.writeAtomically(key, (tmp) => writeFile(tmp, body, { flag: "wx" }));
  }

  async putStream(key: string, body: Readable): Promise<void> {
    await this.writeAtomically(key, (tmp) => pipeline(body, createWriteStream(tmp, { flags: "wx" })));
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      throw this.mapError(err, key);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    checkRange(start, end);
    let fh;
    try {
      fh = await open(this.path(key), "r");
    } catch (err) {
      throw this.mapError(err, key);
    }
    try {
      const { size } = await fh.stat();
      const length = Math.max(0, Math.min(end, size) - start);
      const buf = Buffer.alloc(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await fh.read(buf, filled, length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buf.subarray(0, filled);
    } finally {
      await fh.close();
    }
  }

  async getStream(key: string): Promise<Readable> {
    try {
      // Opening first turns a missing file into NotFoundError here rather than a stream error later.
      const fh = await open(this.path(key), "r");
      return fh.createReadStream();
    } catch (err) {
      throw this.mapError(err, key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const info = await stat(this.path(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return null;
      throw err;
    });
    if (!info?.isFile()) return null;
    return { key, size: info.size, etag: `${info.size}-${info.mtimeMs}` };
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    if (prefix.includes("\\") || prefix.split("/").some((s) => s === "..")) {
      throw new ValidationError(`invalid key prefix ${JSON.stringify(prefix)}`, "prefix");
    }
    // Walk only the directory the prefix names: `a/b/c` → `a/b/`.
    const dirKey = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    const out: ObjectInfo[] = [];
    for await (const path of walk(join(this.root, dirKey))) {
      const key = path.slice(this.root.length + 1).split(sep).join("/");
      if (!key.startsWith(prefix)) continue;
      const info = await stat(path).catch(() => null); // deleted while listing
      if (info?.isFile()) out.push({ key, size: info.size, etag: `${info.size}-${info.mtimeMs}` });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  private path(key: string): string {
    checkKey(key);
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) {
      throw new ValidationError(`object key ${JSON.stringify(key)} escapes the store root`, "key");
    }
    return path;
  }

  /** Writes to a temp file in the target's directory, then renames: readers see all or nothing. */
  private async writeAtomically(key: string, write: (tmp: string) => Promise<unknown>): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(8).toString("hex")}`);
    try {
      await write(tmp);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private mapError(err: unknown, key: string): unknown {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") return new NotFoundError("object", this.url(key));
    return err;
  }
}

/** Every file below `dir`, depth first; nothing when `dir` does not exist. Skips temp files. */
export async function* walk(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return;
    throw err;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (!TEMP_FILE.test(entry.name)) yield path;
  }
}
