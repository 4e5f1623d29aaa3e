/**
 * SHA-256 of tensors (logical little-endian bytes), of the model (canonical
 * tensor list), and of whole files (streamed in a worker thread). All hashing
 * runs off the event loop: tensors through WebCrypto, whose digest jobs run
 * on the libuv thread pool (several in parallel), files in one worker thread
 * (docs/model-storage.md#hashing explains the choice; bench/save.ts measures it).
 */
import { createHash, webcrypto } from 'node:crypto';
import { endianness } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { NumericDType, TypedArray } from '../dtypes.js';
import { compareNames } from './schema.js';

const LITTLE = endianness() === 'LE';

/**
 * The tensor's bytes as a little-endian byte view. On little-endian hosts (all
 * Node tier-1 platforms) this is the typed array's own memory, no copy.
 */
export function leBytes(data: TypedArray): Uint8Array {
  const u8 = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const size = data.BYTES_PER_ELEMENT;
  if (LITTLE || size === 1) return u8;
  const out = new Uint8Array(u8.length);
  for (let i = 0; i < u8.length; i += size) for (let j = 0; j < size; j++) out[i + j] = u8[i + size - 1 - j]!;
  return out;
}

/**
 * SHA-256 (lowercase hex) of a tensor's logical little-endian bytes. WebCrypto
 * copies the input on the calling thread (a memcpy) and hashes on the libuv
 * pool, so several tensors hash in parallel and the event loop only pays the copy.
 */
export async function tensorSha256(data: TypedArray): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-256', leBytes(data));
  return Buffer.from(digest).toString('hex');
}

/**
 * Runs `fn` over items with at most `limit` in flight and at most `maxBytes`
 * of their sizes in flight (one item may exceed it alone), keeping memory for
 * WebCrypto's input copies bounded on large models.
 */
export async function boundedMap<T, R>(
  items: readonly T[], size: (t: T) => number, fn: (t: T, i: number) => Promise<R>,
  limit = 4, maxBytes = 256 * 1024 * 1024,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let inflight = 0;
  let bytes = 0;
  let failed: unknown;
  return new Promise((resolve, reject) => {
    const pump = (): void => {
      if (failed !== undefined) return;
      if (next === items.length && inflight === 0) return resolve(out);
      while (next < items.length && inflight < limit && (inflight === 0 || bytes + size(items[next]!) <= maxBytes)) {
        const i = next++;
        const s = size(items[i]!);
        inflight++;
        bytes += s;
        fn(items[i]!, i).then(
          (r) => { out[i] = r; inflight--; bytes -= s; pump(); },
          (e) => { if (failed === undefined) { failed = e; reject(e); } },
        );
      }
    };
    pump();
  });
}

/** The fields of one tensor that enter the model digest. */
export interface DigestItem {
  name: string;
  dtype: NumericDType;
  shape: number[];
  sha256: string;
}

/**
 * Canonical text hashed into the model digest (format v1):
 *   "h5vault-model-digest-v1\n" then, per tensor sorted by UTF-8 name bytes,
 *   "<name>\t<dtype>\t<d0>,<d1>,...\t<sha256 hex>\n" (a scalar has an empty shape field).
 * Names cannot contain tabs or newlines (checkTensorName), so the text is unambiguous.
 */
export function canonicalTensorList(items: readonly DigestItem[]): string {
  const sorted = [...items].sort((a, b) => compareNames(a.name, b.name));
  let s = 'h5vault-model-digest-v1\n';
  for (const t of sorted) s += `${t.name}\t${t.dtype}\t${t.shape.join(',')}\t${t.sha256}\n`;
  return s;
}

/** SHA-256 (lowercase hex) of canonicalTensorList(items). */
export function modelDigestOf(items: readonly DigestItem[]): string {
  return createHash('sha256').update(canonicalTensorList(items), 'utf8').digest('hex');
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

// --- whole-file SHA-256 in a worker thread --------------------------------

// Inline CommonJS so the same code runs from lib/ (vitest, .ts) and dist/.
// The worker shares the process's file descriptor table, so it reads the fd
// the caller opened: the hashed inode is the one the caller holds.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const buf = Buffer.allocUnsafe(4 << 20);
parentPort.on('message', ({ id, fd }) => {
  try {
    const h = createHash('sha256');
    let pos = 0, n = 0, size = 0;
    while ((n = readSync(fd, buf, 0, buf.length, pos)) > 0) { h.update(buf.subarray(0, n)); pos += n; size += n; }
    parentPort.postMessage({ id, hex: h.digest('hex'), size });
  } catch (e) {
    parentPort.postMessage({ id, error: { message: e.message, code: e.code, syscall: e.syscall } });
  }
});
`;

interface Pending {
  resolve: (r: { hex: string; size: number }) => void;
  reject: (e: Error) => void;
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, Pending>();

function hashWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.on('message', (m: { id: number; hex?: string; size?: number; error?: { message: string; code?: string; syscall?: string } }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code, syscall: m.error.syscall }));
    else p.resolve({ hex: m.hex!, size: m.size! });
  });
  const fail = (e: Error): void => {
    worker = undefined;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`file-hash worker exited with code ${code}`)));
  w.unref();
  worker = w;
  return w;
}

/**
 * SHA-256 of the bytes of the open file `fd` (from position 0 to EOF),
 * computed in a worker thread. The caller keeps `fd` open until this resolves.
 */
export function fileSha256(fd: number): Promise<{ hex: string; size: number }> {
  const w = hashWorker();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref(); // keep the process alive while a hash is pending
    w.postMessage({ id, fd });
  });
}
