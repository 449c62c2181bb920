/**
 * Image decoding: PNG (pngjs) and JPEG (jpeg-js), chosen by the file's magic bytes, never by
 * its extension. Every failure becomes an ImageDecodeError naming the file and the reason.
 */
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { ImageDecodeError } from './errors.js';

const { PNG } = pngjs;

/** A decoded image: 8-bit RGBA, row-major, 4 bytes per pixel. */
export interface RawImage {
  width: number;
  height: number;
  /** width * height * 4 bytes: R, G, B, A per pixel. */
  data: Uint8Array;
}

/** Largest image decodeImage accepts, in pixels (a guard against absurd headers). */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  if (bytes.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[i] !== magic[i]) return false;
  return true;
}

function hexHead(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** The kind of image by magic bytes, or null. */
export function sniffImage(bytes: Uint8Array): 'png' | 'jpeg' | null {
  if (startsWith(bytes, PNG_MAGIC)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

function message(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Decodes PNG (every colour type pngjs reads: grey, RGB, palette, grey+alpha, RGBA, 1- to
 * 16-bit, 16-bit rescaled to 8) or baseline/progressive JPEG (jpeg-js, strict: no tolerant
 * decoding of damaged data) into 8-bit RGBA. `name` is only for messages (usually the path).
 *
 * Throws ImageDecodeError for empty, truncated, corrupt or unknown data, or a size of zero or
 * above MAX_IMAGE_PIXELS; it never returns a partly decoded image.
 */
export function decodeImage(bytes: Uint8Array, name: string): RawImage {
  if (bytes.length === 0) throw new ImageDecodeError(name, 'the file is empty (0 bytes)');
  const kind = sniffImage(bytes);
  if (kind === null) {
    throw new ImageDecodeError(name, `expected a PNG or JPEG file, found other data (first bytes: ${hexHead(bytes)})`);
  }
  let img: RawImage;
  if (kind === 'png') {
    try {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const p = PNG.sync.read(buf);
      img = { width: p.width, height: p.height, data: new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength) };
    } catch (e) {
      const m = message(e);
      const reason = /read requests|unexpected end|ended/i.test(m)
        ? `PNG data ends early (truncated file?): ${m}`
        : `corrupt PNG: ${m}`;
      throw new ImageDecodeError(name, reason);
    }
  } else {
    // A complete JPEG ends with the EOI marker FF D9 (possibly followed by padding); jpeg-js
    // may accept some truncated files, so check it ourselves.
    let end = bytes.length;
    while (end > 2 && bytes[end - 1] === 0x00) end--;
    try {
      const j = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        tolerantDecoding: false,
        maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6,
        maxMemoryUsageInMB: 1024,
      });
      img = { width: j.width, height: j.height, data: j.data };
    } catch (e) {
      const m = message(e);
      const truncated = !(bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9);
      throw new ImageDecodeError(name, truncated ? `JPEG data ends early (truncated file?): ${m}` : `corrupt JPEG: ${m}`);
    }
    if (!(bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9)) {
      throw new ImageDecodeError(name, 'JPEG data ends early (truncated file?): no end-of-image marker FF D9');
    }
  }
  if (!(img.width > 0 && img.height > 0)) {
    throw new ImageDecodeError(name, `expected a positive size, found ${img.width}x${img.height}`);
  }
  if (img.width * img.height > MAX_IMAGE_PIXELS) {
    throw new ImageDecodeError(name, `expected at most ${MAX_IMAGE_PIXELS} pixels, found ${img.width}x${img.height}`);
  }
  if (img.data.length !== img.width * img.height * 4) {
    throw new ImageDecodeError(name, `decoder returned ${img.data.length} bytes for ${img.width}x${img.height} RGBA`);
  }
  return img;
}
