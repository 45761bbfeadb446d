import { crc32, deflateSync } from "node:zlib";

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
