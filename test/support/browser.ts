import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium (never a browser downloaded by a test tool); CHROMIUM_PATH picks another. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const DIST = resolve(import.meta.dirname, "../../services/dashboard/dist/index.html");

/** Why the browser tests cannot run on this machine (no Chromium, no dashboard build), or null. */
export function browserMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (apt-get install chromium; npm run setup does it as root)`;
  if (!existsSync(DIST)) return "the dashboard is not built (npm run build -w @tokenmill/dashboard)";
  return null;
}

/** Headless Chromium that reaches nothing but the loopback API it is pointed at. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
