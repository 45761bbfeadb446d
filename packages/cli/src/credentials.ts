import { mkdirSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** Where `tokenmill login` keeps a token: $TOKENMILL_CONFIG_DIR/token (default ~/.config/tokenmill/token). */
export function tokenPath(): string {
  return join(process.env.TOKENMILL_CONFIG_DIR || join(homedir(), ".config", "tokenmill"), "token");
}

export function loadSavedToken(): string | undefined {
  try {
    return readFileSync(tokenPath(), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function saveToken(token: string): string {
  const path = tokenPath();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
