/**
 * Side files: tensor bytes of a message passed through a shared-memory file instead of the
 * socket, for workers on the coordinator's own machine (`train --workers N`).
 *
 * Why: on one host every STATE and RESULT crossed loopback TCP — the sender's copy into the
 * kernel, the receiver's copy out in 64 KiB pieces, `ws` joining the pieces into one buffer —
 * about 100 ms per 35 MB (`crnn`) on the 2-core machine, times 2N transfers a step. A tmpfs
 * file rewritten in place and read into a reused buffer is one copy each way (about 15 ms per
 * 35 MB there). The frame itself still goes over the socket with its header, tensor table and
 * metadata; the metadata names the file (`SIDE_KEY`) and the tensor bytes (same layout as
 * inline: each tensor padded to 8 bytes) are the file's whole content. decodeFrame() checks
 * the file's size against the table like an inline frame's length, and the per-type
 * validators then see the same tensors either way.
 *
 * The directory is made by the coordinator's process (mode 0700, under /dev/shm where it
 * exists) and handed to its own workers in their environment (`CRNN_SHM_DIR`); a worker
 * presents it in HELLO and the coordinator agrees in WELCOME only when it is its own
 * directory, so remote workers, and workers started by hand, use the socket. Files are
 * rewritten in place at fixed names (no page allocation per step) and removed with the
 * directory at the end. A write that fails (a full tmpfs: Docker's /dev/shm is 64 MiB) falls
 * back to sending the bytes inline.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolError } from './protocol.js';

const NAME = /^[A-Za-z0-9_-]{1,100}\.bin$/;

/**
 * File names. STATE alternates between two names by step parity, so that a worker still
 * reading the previous step's weights is never overwritten under it; a worker's RESULT files
 * (one per tree node, rewritten in place each step) start with its id, so the coordinator can
 * refuse names that are not the sender's.
 */
export const stateFile = (step: number): string => `state-${step % 2}.bin`;
export const isStateFile = (name: string): boolean => name === stateFile(0) || name === stateFile(1);
export const resultPrefix = (workerId: number): string => `w${workerId}-`;
export const resultFile = (workerId: number, level: number, index: number): string => `${resultPrefix(workerId)}n${level}-${index}.bin`;

export class SideFiles {
  /** Reused read buffers, by file name (a name is read again only a step later). */
  private readonly pool = new Map<string, Buffer>();

  constructor(readonly dir: string) {}

  /** A fresh private directory, on tmpfs where the machine has /dev/shm. */
  static create(): SideFiles {
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    return new SideFiles(mkdtempSync(join(base, 'crnn-side-')));
  }

  private path(name: string): string {
    if (!NAME.test(name)) throw new ProtocolError(`side file name '${name.slice(0, 120)}' is not of the form [A-Za-z0-9_-]+.bin`);
    return join(this.dir, name);
  }

  /** Writes the chunks, concatenated, as the file's whole content (in place); returns the bytes. */
  write(name: string, chunks: readonly Uint8Array[]): number {
    // No O_TRUNC: rewriting the same pages in place avoids freeing and faulting them in again.
    const fd = openSync(this.path(name), constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      let at = 0;
      for (const c of chunks) {
        let done = 0;
        while (done < c.byteLength) done += writeSync(fd, c, done, c.byteLength - done, at + done);
        at += c.byteLength;
      }
      if (fstatSync(fd).size !== at) ftruncateSync(fd, at);
      return at;
    } finally {
      closeSync(fd);
    }
  }

  /** Reads a file that must hold exactly `bytes` bytes (a view of a reused buffer). */
  read(name: string, bytes: number): Uint8Array {
    const p = this.path(name);
    let fd: number;
    try {
      fd = openSync(p, 'r');
    } catch (e) {
      throw new ProtocolError(`side file ${name}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    try {
      const size = fstatSync(fd).size;
      if (size !== bytes) throw new ProtocolError(`side file ${name} has ${size} bytes, the frame announces ${bytes}`);
      let buf = this.pool.get(name);
      if (!buf || buf.byteLength !== bytes) {
        buf = Buffer.allocUnsafeSlow(bytes);
        this.pool.set(name, buf);
      }
      let done = 0;
      while (done < bytes) {
        const n = readSync(fd, buf, done, bytes - done, done);
        if (n === 0) throw new ProtocolError(`side file ${name} ended after ${done} of ${bytes} bytes`);
        done += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }

  /** Drops the read buffers of names starting with `prefix` (a worker that left). */
  forget(prefix: string): void {
    for (const k of [...this.pool.keys()]) if (k.startsWith(prefix)) this.pool.delete(k);
  }

  /** Removes the directory and everything in it. */
  dispose(): void {
    this.pool.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
