/**
 * Tensors whose bytes reach the file without passing through libhdf5: a
 * delta pull's rebuild (lib/model/store/cas-pull.ts) has the kernel copy the
 * tensors a cached file holds, and writes the downloaded ones when they
 * arrive (whole, or piece by piece as each piece arrives: a Sink), while
 * libhdf5 goes on laying out the tensors after them. libhdf5
 * only allocates each such dataset, by writing a prefix (writePrefix); the
 * file's layout, so its bytes, is the same as a plain save's, because what
 * fixes it is the order of the libhdf5 calls, which does not change.
 */
import { closeSync, openSync, write } from 'node:fs';
import { promisify } from 'node:util';
import { native } from '../addon/binding.js';
import type { Dataset } from '../h5/dataset.js';
import { H5Error } from '../errors.js';
import type { Entry } from './schema.js';
import { checkAbort } from '../util/abort.js';

/**
 * @internal Fills a placed tensor's range in pieces, as they arrive (a delta
 * pull's downloads, streamed: no tensor is held in memory): `write` puts
 * bytes at an offset of the tensor, `copy` has the kernel copy a range of
 * another open file there. Each resolves once that piece is in the file, so
 * the caller can reuse its buffer. Together the pieces must cover the whole
 * tensor (its range holds zeros until then). A rejection fails the write.
 */
export type Sink = (
  write: (bytes: Uint8Array, offset: number) => Promise<void>,
  copy: (fd: number, from: number, offset: number, length: number) => Promise<void>,
  /** Where the tensor starts in the file. */
  at: number,
) => Promise<void>;

/** @internal Whether the writer places `e` (a Sink can fill it): uncompressed, and big enough to allocate by a prefix. */
export function placeable(e: Entry, filtered: boolean): boolean {
  return !filtered && e.byteLength >= PLACE_MIN_BYTES && prefixCount(e) !== undefined;
}

/**
 * @internal Where an uncompressed tensor's bytes already lie in another open
 * file (the cached version a delta pull rebuilds from): `offsets` maps a tensor
 * name to the offset of exactly its stored bytes in `fd`. The writer then has
 * libhdf5 allocate the dataset by writing only a prefix, and the kernel copies
 * the whole range (copy_file_range): no page of either file passes through
 * this process. Only with knownSha256: nothing is hashed on the way, so the
 * caller must check the file's SHA-256 (a wrong offset only makes it differ).
 */
export interface CopySource {
  fd: number;
  offsets: ReadonlyMap<string, number>;
  /** Set by the writer: bytes the kernel copied. */
  copied?: number;
}

// Tensors smaller than this are written through libhdf5: placing them saves
// little, and the prefix write must exceed libhdf5's 64 KiB sieve buffer (see writePrefix).
const PLACE_MIN_BYTES = 256 * 1024;
const PREFIX_BYTES = 128 * 1024;

/** Where a tensor written contiguous lies in the file, for reading (`use`: "hash") or writing it there ("copy into"). */
export function storageOffset(e: Entry, ds: Dataset, use: string): number {
  const off = ds.offset;
  if (off === null) throw new H5Error(`tensor '${e.name}' has no contiguous storage to ${use}`, { code: 'H5_ERROR' });
  return off;
}

/**
 * Writes the smallest row-major prefix of `e` that is one contiguous hyperslab
 * of at least PREFIX_BYTES (under 2 × PREFIX_BYTES), which makes libhdf5
 * allocate the dataset's whole contiguous storage exactly as a full write does
 * (a contiguous dataset is allocated at its first write). The prefix exceeds
 * the sieve buffer, so libhdf5 pwrites it at once and keeps no dirty copy that
 * a later flush could write over the range written outside it. The bytes are
 * the tensor's own, or zeros when `zeros` (its memory is still being filled:
 * the whole range is written again once it is). Resolves to the prefix's
 * bytes, 0 (nothing written) when no prefix is smaller than the tensor.
 */
function writePrefix(ds: Dataset, e: Entry, zeros: boolean): number {
  const c = prefixCount(e);
  if (!c) return 0;
  const { shape, data } = e.tensor;
  const src = zeros ? new (data.constructor as new (n: number) => typeof data)(c.elems) : data.subarray(0, c.elems);
  // On the event loop: one pwrite of at most 256 KiB to the page cache costs less
  // than a hop to the thread pool and back, and the writer waits for it anyway.
  ds.writeSync(src, { start: shape.map(() => 0), count: c.count });
  return c.elems * data.BYTES_PER_ELEMENT;
}

/** The hyperslab writePrefix writes (undefined: none is smaller than the tensor). */
function prefixCount(e: Entry): { elems: number; count: number[] } | undefined {
  const { shape, data } = e.tensor;
  const item = data.BYTES_PER_ELEMENT;
  let inner = 1; // elements of one index of dimension d
  for (let d = shape.length - 1; d >= 0; d--) {
    if (inner * item * shape[d]! >= PREFIX_BYTES) {
      const c = Math.ceil(PREFIX_BYTES / (inner * item));
      const elems = c * inner;
      if (elems * item >= e.byteLength) return undefined;
      return { elems, count: shape.map((n, j) => (j < d ? 1 : j === d ? c : n)) };
    }
    inner *= shape[d]!;
  }
  return undefined;
}

/**
 * The placed tensors of one write. Each one's write outside libhdf5 is issued
 * as soon as libhdf5 has allocated it: a kernel copy at once, a downloaded
 * tensor when it arrives. They run on the libuv pool while the event loop
 * creates the next datasets, into ranges libhdf5 allocated and will not write
 * again (no later libhdf5 call touches another dataset's storage, and a
 * prefix write leaves no dirty sieve buffer). Copies are issued straight to
 * the pool, not chained through the event loop: the writer's loop makes only
 * synchronous libhdf5 calls, so a chain would advance only when it yields
 * (every YIELD_EVERY placements, which also lets the downloads' sockets be
 * read). `finish` waits for all of them; the file is hashed only after that.
 */
export class PlacedWrites {
  /** Bytes the kernel copied from the CopySource. */
  copied = 0;
  #fd: number | undefined;
  /** Every placement's outcome (finish). */
  #all: Promise<unknown>[] = [];
  /** The writes issued on #fd (close waits for them before closing it: a closed fd number can be reused). */
  #running: Promise<unknown>[] = [];
  #closing = false;
  #placed = 0;

  constructor(
    private readonly temp: string,
    private readonly signal: AbortSignal | undefined,
    private readonly progress: (n: number) => void,
  ) {}

  /**
   * Places `e` (dataset `ds`, just created; nothing written yet) if it is
   * big enough: copied from `from` (a file and offset), or written from its
   * own memory once `arrival` resolves. False: not placed (too small to
   * prefix); the caller writes it through libhdf5.
   */
  async place(
    ds: Dataset,
    e: Entry,
    src: { fd: number; from: number } | { arrival: Promise<unknown> } | { sink: Sink },
  ): Promise<boolean> {
    if (e.byteLength < PLACE_MIN_BYTES) return false;
    const copy = 'fd' in src;
    const skip = writePrefix(ds, e, !copy);
    if (skip === 0) return false;
    const at = storageOffset(e, ds, 'copy into');
    this.#fd ??= openSync(this.temp, 'r+');
    const fd = this.#fd;
    const issue = (work: Promise<unknown>, bytes: number): Promise<void> => {
      this.#running.push(work.catch(() => {}));
      return work.then(() => this.progress(bytes));
    };
    // Not after close(): the file is being abandoned (and its fd may be gone).
    const open = (): void => {
      if (this.#closing) throw new H5Error('the write was abandoned', { code: 'H5_ABORTED' });
      checkAbort(this.signal, 'save');
    };
    let done: Promise<void>;
    if (copy) {
      this.progress(skip); // (the prefix libhdf5 wrote is already there)
      const rest = e.byteLength - skip;
      done = issue(native.copyRange(src.fd, src.from + skip, fd, at + skip, rest), rest).then(() => {
        this.copied += rest;
      });
    } else if ('sink' in src) {
      // The pieces cover the whole range, the prefix's zeros included.
      const inRange = (offset: number, length: number): void => {
        if (!(offset >= 0 && length >= 0 && offset + length <= e.byteLength))
          throw new RangeError(`a piece of ${length} bytes at ${offset} is outside tensor '${e.name}'`);
      };
      done = src.sink(
        async (bytes, offset) => {
          open();
          inRange(offset, bytes.length);
          await issue(writeAll(fd, bytes, at + offset), bytes.length);
        },
        async (from, fromAt, offset, length) => {
          open();
          inRange(offset, length);
          await issue(native.copyRange(from, fromAt, fd, at + offset, length), length);
          this.copied += length;
        },
        at,
      );
    } else {
      this.progress(skip);
      done = src.arrival.then(() => {
        open();
        const { data } = e.tensor;
        // (the prefix was zeros)
        return issue(writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, e.byteLength), at), e.byteLength - skip);
      });
    }
    done.catch(() => {}); // observed in finish(), or settled in close()
    this.#all.push(done);
    if (++this.#placed % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
    return true;
  }

  /** Waits for every placed write; the first failure rejects. */
  async finish(): Promise<void> {
    await Promise.all(this.#all);
  }

  /**
   * Closes the file once no placed write is running (on success and failure
   * alike). Writes whose tensor has not arrived yet never start: a failed
   * write does not wait for downloads to end.
   */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#running);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

const YIELD_EVERY = 16;
const pwrite = promisify(write);

/** Writes all of `bytes` at `position` of `fd` (pwrite may write less than asked). */
async function writeAll(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  for (let n = 0; n < bytes.length; ) n += (await pwrite(fd, bytes, n, bytes.length - n, position + n)).bytesWritten;
}
