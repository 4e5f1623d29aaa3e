/**
 * SHA-256 of tensors (logical little-endian bytes), of the model (canonical
 * tensor list), and of files or byte ranges of files. All hashing runs off the
 * event loop. Tensors stored uncompressed are hashed from the file by worker
 * threads (no copy on the calling thread); tensors only available in memory
 * (compressed ones) through WebCrypto, whose digest jobs run on the libuv
 * pool but whose input is copied on the calling thread first
 * (docs/model-storage.md#hashing; bench/save.ts measures the options).
 */
import { createHash, webcrypto } from 'node:crypto';
import { availableParallelism, endianness } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { NumericDType, TypedArray } from '../h5/dtypes.js';
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
  items: readonly T[],
  size: (t: T) => number,
  fn: (t: T, i: number) => Promise<R>,
  limit = 4,
  maxBytes = 256 * 1024 * 1024,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let inflight = 0;
  let bytes = 0;
  let failed: unknown;
  return new Promise((resolve, reject) => {
    const pump = (): void => {
      if (failed !== undefined) return;
      if (next === items.length && inflight === 0) {
        resolve(out);
        return;
      }
      while (next < items.length && inflight < limit && (inflight === 0 || bytes + size(items[next]!) <= maxBytes)) {
        const i = next++;
        const s = size(items[i]!);
        inflight++;
        bytes += s;
        fn(items[i]!, i).then(
          (r) => {
            out[i] = r;
            inflight--;
            bytes -= s;
            pump();
          },
          (e) => {
            if (failed === undefined) {
              failed = e;
              reject(e);
            }
          },
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
/** SHA256_HEX in words, for `must be` messages. */
export const SHA256_EXPECTED = 'a SHA-256 digest: 64 lowercase hex characters';

// --- SHA-256 of file ranges in worker threads --------------------------------

// Inline source so the same code runs from lib/ (vitest, .ts) and dist/.
// An eval'd worker is parsed as CommonJS or as an ES module depending on the
// process's --input-type (a script run with `node --input-type=module -e`
// passes it on), so the source uses neither require() nor import:
// process.getBuiltinModule works in both.
// Workers share the process's file descriptor table, so they pread() the fd
// the caller opened: the hashed inode is the one the caller holds, and
// nothing is copied or hashed on the calling thread.
const WORKER_SOURCE = `
const { parentPort } = process.getBuiltinModule('node:worker_threads');
const { createHash } = process.getBuiltinModule('node:crypto');
const { readSync } = process.getBuiltinModule('node:fs');
const buf = Buffer.allocUnsafe(4 << 20);
parentPort.on('message', ({ id, fd, offset, length }) => {
  try {
    const h = createHash('sha256');
    let pos = offset, left = length < 0 ? Infinity : length, n = 0, size = 0;
    while (left > 0 && (n = readSync(fd, buf, 0, Math.min(buf.length, left), pos)) > 0) {
      h.update(buf.subarray(0, n)); pos += n; size += n; left -= n;
    }
    if (length >= 0 && size !== length) throw Object.assign(new Error('file ended ' + (length - size) + ' bytes early'), { code: 'EIO' });
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

interface PoolWorker {
  w: Worker;
  pending: Map<number, Pending>;
}

// Two workers: hashing is CPU-bound, and more would only compete with the
// engine's codec threads and libuv for the same cores.
const POOL_SIZE = Math.max(1, Math.min(2, availableParallelism()));
const pool: (PoolWorker | undefined)[] = [];
let nextId = 1;

function poolWorker(): PoolWorker {
  // Pick the least busy slot, starting a worker there if it has none yet.
  let best = 0;
  for (let i = 0; i < POOL_SIZE; i++) {
    const p = pool[i];
    if (!p) {
      best = i;
      break;
    }
    if (p.pending.size < pool[best]!.pending.size) best = i;
  }
  const existing = pool[best];
  if (existing) return existing;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  const pw: PoolWorker = { w, pending: new Map() };
  w.on(
    'message',
    (m: { id: number; hex?: string; size?: number; error?: { message: string; code?: string; syscall?: string } }) => {
      const p = pw.pending.get(m.id);
      if (!p) return;
      pw.pending.delete(m.id);
      if (pw.pending.size === 0) w.unref();
      if (m.error)
        p.reject(Object.assign(new Error(m.error.message), { code: m.error.code, syscall: m.error.syscall }));
      else p.resolve({ hex: m.hex!, size: m.size! });
    },
  );
  const fail = (e: Error): void => {
    if (pool[best] === pw) pool[best] = undefined;
    for (const p of pw.pending.values()) p.reject(e);
    pw.pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`hash worker exited with code ${code}`)));
  w.unref();
  pool[best] = pw;
  return pw;
}

/**
 * SHA-256 of `length` bytes of the open file `fd` from `offset` (length -1:
 * to EOF), computed in a worker thread. The caller keeps `fd` open until this
 * settles. Fails (EIO) if the file is shorter than the range.
 */
export function rangeSha256(fd: number, offset: number, length: number): Promise<{ hex: string; size: number }> {
  const pw = poolWorker();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pw.pending.set(id, { resolve, reject });
    pw.w.ref(); // keep the process alive while a hash is pending
    pw.w.postMessage({ id, fd, offset, length });
  });
}

/**
 * Starts a hash worker now if none runs (tens of ms), so that a writer which
 * hashes only its finished file (a delta pull's rebuild) does not wait for
 * the start then.
 */
export function warmHashWorkers(): void {
  poolWorker();
}

/** SHA-256 of a whole open file, in a worker thread. */
export function fileSha256(fd: number): Promise<{ hex: string; size: number }> {
  return rangeSha256(fd, 0, -1);
}
