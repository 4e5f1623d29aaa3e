/** File: an open HDF5 file; also its root Group. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native, type FileHandle } from '../addon/binding.js';
import { Group } from './group.js';
import { H5Error, withSite } from '../errors.js';
import { repairSuperblockChecksum } from './superblock.js';
import {
  openChecked,
  openCheckedSync,
  openPinned,
  walkUntrusted,
  walkUntrustedSync,
  wantsChecks,
  type UntrustedOpenOptions,
} from '../safety/untrusted.js';
import { isS3Url } from '../remote/url.js';
import {
  closeRemoteHandle,
  openRemoteHandle,
  openRemoteHandleAsync,
  remoteStats,
  type RemoteOpenOptions,
  type RemoteStats,
} from '../remote/lazy-file.js';
import { booleanOption, checkObject, checkPath, oneOfOption } from '../util/validate.js';

const OPEN_MODES = ['r', 'r+'] as const;

export interface CreateOptions {
  /** Replace an existing file (default false: H5_EXISTS). */
  overwrite?: boolean;
  /** The root group tracks link creation order (h5py's track_order=True): keys() lists in creation order. */
  trackOrder?: boolean;
}

export interface InMemoryOptions {
  /** As CreateOptions.trackOrder. */
  trackOrder?: boolean;
}

/** untrusted / limits / expectDigest apply to the image's bytes as to a file's (docs/security.md). */
export type ImageOpenOptions = UntrustedOpenOptions;

/** untrusted / limits / expectDigest: see lib/safety/untrusted.ts and docs/security.md. */
/**
 * untrusted / limits / expectDigest: see lib/safety/untrusted.ts and docs/security.md.
 * endpoint / region / credentials / blockSize / cacheBytes: for s3:// URLs (lib/remote/lazy-file.ts).
 */
export interface OpenOptions extends UntrustedOpenOptions, RemoteOpenOptions {
  /** 'r' (default, read-only, views possible) or 'r+' (read-write). */
  mode?: 'r' | 'r+';
}

export class File extends Group {
  override readonly kind = 'file' as const;
  /** Filesystem path as given. */
  readonly filename: string;
  readonly mode: 'r' | 'r+' | 'w';
  /** @internal */
  readonly fileHandle: FileHandle;
  #closed = false;

  private constructor(fh: FileHandle, filename: string, mode: 'r' | 'r+' | 'w') {
    super(native.fileRoot(fh), '/');
    this.fileHandle = fh;
    this.filename = filename;
    this.mode = mode;
  }

  /** Creates a new file for writing. Fails with H5_EXISTS unless { overwrite: true }. */
  static create(path: string, options: CreateOptions = {}): File {
    checkPath(path);
    checkObject(options);
    const overwrite = booleanOption(options, 'overwrite', false);
    const trackOrder = booleanOption(options, 'trackOrder', false);
    return new File(native.fileCreate(path, overwrite, trackOrder), path, 'w');
  }

  /**
   * Creates a new, empty file that lives only in memory (libhdf5's core
   * driver; nothing touches the disk). Write to it as to any file, then take
   * its bytes with toBuffer().
   */
  static createInMemory(options: InMemoryOptions = {}): File {
    checkObject(options);
    const trackOrder = booleanOption(options, 'trackOrder', false);
    const fh = native.fileCreateInMemory(trackOrder);
    return new File(fh, native.fileState(fh).path, 'w');
  }

  /**
   * Opens an HDF5 file image (the bytes of a file: a network payload, an
   * embedded asset, toBuffer()'s result), read-only. The bytes are copied
   * once into a sealed anonymous memory file, so later changes to `bytes`
   * do not reach the open file, views work as on disk, and they keep that
   * memory alive after close(). With { untrusted } or { expectDigest } the
   * image is checked first, like a file (its bytes are walked in a limited
   * child process, or hashed), blocking: prefer fromBufferAsync.
   */
  static fromBuffer(bytes: Uint8Array, options: ImageOpenOptions = {}): File {
    const copy = imageCopy(bytes);
    const checked = wantsChecks(options);
    if (checked) {
      if (options.expectDigest !== undefined) checkImageDigest(copy, options.expectDigest);
      else withImageFile(copy, (p) => walkUntrustedSync(p, options.limits));
    }
    return File.#fromImage(copy, checked);
  }

  /** fromBuffer() as a Promise: the untrusted walk runs off the event loop. */
  static async fromBufferAsync(bytes: Uint8Array, options: ImageOpenOptions = {}): Promise<File> {
    const copy = imageCopy(bytes);
    const checked = wantsChecks(options);
    const site = new Error();
    return withSite(site, async () => {
      if (checked) {
        if (options.expectDigest !== undefined) checkImageDigest(copy, options.expectDigest);
        else await withImageFileAsync(copy, (p) => walkUntrusted(p, options.limits));
      }
      return File.#fromImage(copy, checked);
    });
  }

  static #fromImage(bytes: Uint8Array, checked: boolean): File {
    const fh = native.fileOpenImage(bytes, '(in-memory image)');
    if (checked) native.fileRefuseExternal(fh);
    return new File(fh, '(in-memory image)', 'r');
  }

  /** True for files made by createInMemory() or fromBuffer(). */
  get inMemory(): boolean {
    return native.fileInMemory(this.fileHandle);
  }

  /**
   * The file's current bytes (flushed first): a complete HDF5 file that
   * fromBuffer(), h5py (`h5py.File(io.BytesIO(b))`) or a write to disk can
   * take. Works for every open file; a copy.
   */
  toBuffer(): Buffer {
    const img = Buffer.from(native.fileImage(this.fileHandle));
    repairSuperblockChecksum(img);
    return img;
  }

  /** Opens an existing file, read-only by default; an s3://bucket/key URL opens the object read-only, read lazily. */
  static open(path: string, options: OpenOptions = {}): File {
    checkPath(path);
    checkObject(options);
    if (isS3Url(path)) return File.#openRemote(path, options);
    const mode = oneOfOption(options, 'mode', OPEN_MODES, 'r');
    if (options.input && mode !== 'r')
      throw new TypeError("a pinned input opens read-only: mode 'r+' cannot be combined with it");
    // openPath: the vetted descriptor (/proc/self/fd/N) when untrusted/expectDigest pinned one.
    const plain = (openPath?: string) => new File(native.fileOpen(path, mode === 'r+', openPath), path, mode);
    // { untrusted } walks the file in a child process (blocking here: prefer openAsync).
    if (wantsChecks(options)) return refuseExternal(openCheckedSync(path, options, plain));
    // A file the caller pinned (lib/safety/open.ts) opens through its descriptor, identity checked.
    return options.input ? openPinned(options.input, plain) : plain();
  }

  /** open() as a Promise: the untrusted walk and the digest run off the event loop. */
  static async openAsync(path: string, options: OpenOptions = {}): Promise<File> {
    checkPath(path);
    checkObject(options);
    const site = new Error();
    if (isS3Url(path)) {
      File.#checkRemote(path, options);
      return withSite(site, async () => new File(await openRemoteHandleAsync(path, options), path, 'r'));
    }
    const mode = oneOfOption(options, 'mode', OPEN_MODES, 'r');
    if (options.input && mode !== 'r')
      throw new TypeError("a pinned input opens read-only: mode 'r+' cannot be combined with it");
    // openPath: the vetted descriptor (/proc/self/fd/N) when untrusted/expectDigest pinned one.
    const plain = (openPath?: string) => new File(native.fileOpen(path, mode === 'r+', openPath), path, mode);
    return withSite(site, async () => {
      if (wantsChecks(options)) return refuseExternal(await openChecked(path, options, plain));
      return options.input ? openPinned(options.input, plain) : plain();
    });
  }

  static #openRemote(url: string, options: OpenOptions): File {
    File.#checkRemote(url, options);
    return new File(openRemoteHandle(url, options), url, 'r');
  }

  static #checkRemote(url: string, options: OpenOptions): void {
    if ((options.mode ?? 'r') !== 'r')
      throw new H5Error(`cannot open '${url}' for writing: s3:// files open read-only`, { code: 'H5_READ_ONLY' });
    // The hostile-file walk needs the whole file in a sandboxed child: download
    // remote files you do not trust (docs/security.md, "Remote files").
    if (wantsChecks(options))
      throw new H5Error(
        `cannot open '${url}' with untrusted/expectDigest: remote files are opened trusted only; download it first`,
        {
          code: 'H5_UNSUPPORTED',
          reason: 'remote-untrusted',
        },
      );
  }

  /** Requests and bytes a remote (s3://) file has cost so far; undefined for local files. */
  get remote(): (RemoteStats & { size: number; etag: string; url: string }) | undefined {
    return remoteStats(this.fileHandle);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get writable(): boolean {
    return this.mode !== 'r';
  }

  /**
   * Closes the file. Idempotent. Pending read()/write() promises still
   * complete; libhdf5's handle is released when the last of them ends.
   * Views stay valid (the mapping lives until its last view is collected).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      native.fileClose(this.fileHandle);
    } finally {
      closeRemoteHandle(this.fileHandle);
    }
  }

  /** close() that resolves once libhdf5 has really closed the file. */
  async closeAsync(): Promise<void> {
    const site = new Error();
    this.#closed = true;
    return withSite(site, () => native.fileCloseAsync(this.fileHandle)).finally(() =>
      closeRemoteHandle(this.fileHandle),
    );
  }

  /** Flushes libhdf5's buffers to the OS (it does not fsync). */
  flush(): void {
    native.fileFlush(this.fileHandle);
  }

  /** Faults the whole file mapping in, off the event loop (read-only files). */
  async prefetch(): Promise<void> {
    const site = new Error();
    return withSite(site, () => native.prefetch(this.fileHandle, true));
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.closeAsync();
  }

  override toString(): string {
    return `<File ${this.filename} (${this.mode}${this.#closed ? ', closed' : ''})>`;
  }
}

// A checked open vouches for the file checked, never for files its external
// links name: those links stay closed even with { followExternal: true }.
function refuseExternal(f: File): File {
  native.fileRefuseExternal(f.fileHandle);
  return f;
}

function imageCopy(bytes: unknown): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('image must be a Uint8Array or Buffer');
  if (bytes.byteLength === 0) throw new H5Error('an empty buffer is not an HDF5 file image', { code: 'H5_NOT_HDF5' });
  // Checked and opened bytes must be the same bytes: the caller may change theirs meanwhile.
  return new Uint8Array(bytes);
}

// { expectDigest } on an image: the SHA-256 of exactly the bytes opened.
function checkImageDigest(bytes: Uint8Array, expected: string): void {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual === expected.toLowerCase()) return;
  throw new H5Error(
    `in-memory image: SHA-256 ${actual} does not match the expected ${expected.toLowerCase()}: refusing to parse it`,
    {
      code: 'H5_CHECKSUM_MISMATCH',
      expected: expected.toLowerCase(),
      actual,
    },
  );
}

// The untrusted walk runs in a child process over a file: the image's bytes
// go to a private temporary file for it, removed once the walk is done. The
// bytes then opened are the private copy that was written, not the caller's.
function imageTemp(bytes: Uint8Array): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'h5vault-image-'));
  const path = join(dir, 'in-memory-image.h5');
  writeFileSync(path, bytes, { mode: 0o600 });
  return { dir, path };
}

function withImageFile<T>(bytes: Uint8Array, fn: (path: string) => T): T {
  const t = imageTemp(bytes);
  try {
    return fn(t.path);
  } finally {
    rmSync(t.dir, { recursive: true, force: true });
  }
}

async function withImageFileAsync<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const t = imageTemp(bytes);
  try {
    return await fn(t.path);
  } finally {
    rmSync(t.dir, { recursive: true, force: true });
  }
}
