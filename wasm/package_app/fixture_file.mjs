// Reads a raw float32 file of make_fixtures.py (node tests and the packaged app).
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A fixture's raw little-endian float32 file, in a buffer of its own (transferable). */
export function readF32(dir, file) {
  const bytes = readFileSync(path.join(dir, file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
