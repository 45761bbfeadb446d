import { writeFile } from "node:fs/promises";
import { crc32, deflateSync } from "node:zlib";
import type { Browser, Page } from "playwright-core";

/** The 216 colours of a 6 × 6 × 6 cube: each channel 0, 51, …, 255. */
const LEVEL = 51;

const chunk = (type: string, data: Buffer) => {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
};

/**
 * An opaque RGBA image as an 8-bit palette PNG over a 216-colour cube, deflated at level 9: a
 * dashboard screenshot (flat colours, text) shrinks to a fraction of the browser's own PNG and
 * still reads the same. For the screenshots committed to the docs.
 */
export function palettePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const q = (v: number) => Math.round(v / LEVEL);
  const rows = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (width + 1)] = 0; // filter: none (palette indices compress well as they are)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      rows[y * (width + 1) + 1 + x] = q(rgba[i]!) * 36 + q(rgba[i + 1]!) * 6 + q(rgba[i + 2]!);
    }
  }
  const palette = Buffer.alloc(216 * 3);
  for (let i = 0; i < 216; i++) palette.set([Math.floor(i / 36) * LEVEL, (Math.floor(i / 6) % 6) * LEVEL, (i % 6) * LEVEL], i * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8); // 8-bit, palette, deflate, adaptive filtering, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("PLTE", palette),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A full-page screenshot of `page` written to `path` as a palette PNG (for the docs). */
export async function savePaletteScreenshot(browser: Browser, page: Page, path: string): Promise<void> {
  // For the repository: a palette PNG (see palettePng), a fraction of the browser's size. The
  // pixels are read back in a blank page of the same browser, so no image tool is needed.
  const png = await page.screenshot({ fullPage: true });
  const scratch = await browser.newPage();
  const { width, height, rgba } = await scratch.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = Object.assign(document.createElement("canvas"), { width: img.width, height: img.height });
    const ctx = canvas.getContext("2d")!;
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, img.width, img.height).data;
    let bin = "";
    for (let i = 0; i < px.length; i += 0x8000) bin += String.fromCharCode(...px.subarray(i, i + 0x8000));
    return { width: img.width, height: img.height, rgba: btoa(bin) };
  }, png.toString("base64"));
  await scratch.close();
  await writeFile(path, palettePng(width, height, Buffer.from(rgba, "base64")));
}
