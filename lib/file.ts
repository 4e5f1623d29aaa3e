/** File: an open HDF5 file; also its root Group. */
import { native, type FileHandle } from './binding.js';
import { Group } from './group.js';
import { H5Error, withSite } from './errors.js';
import { openChecked, openCheckedSync, wantsChecks, type UntrustedOpenOptions } from './untrusted.js';
import { closeRemoteHandle, isS3Url, openRemoteHandle, openRemoteHandleAsync, remoteStats, type RemoteOpenOptions, type RemoteStats } from './s3.js';

export interface CreateOptions {
  /** Replace an existing file (default false: H5_EXISTS). */
  overwrite?: boolean;
}

/**
 * untrusted / limits / expectDigest: see lib/untrusted.ts and docs/security.md.
 * endpoint / region / credentials / blockSize / cacheBytes: for s3:// URLs (lib/s3.ts).
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
    if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
    const overwrite = options.overwrite ?? false;
    if (typeof overwrite !== 'boolean') throw new TypeError('overwrite must be a boolean');
    return new File(native.fileCreate(path, overwrite), path, 'w');
  }

  /** Opens an existing file, read-only by default; an s3://bucket/key URL opens the object read-only, read lazily. */
  static open(path: string, options: OpenOptions = {}): File {
    if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
    if (isS3Url(path)) return File.#openRemote(path, options);
    const mode = options.mode ?? 'r';
    if (mode !== 'r' && mode !== 'r+') throw new TypeError("mode must be 'r' or 'r+'");
    // openPath: the vetted descriptor (/proc/self/fd/N) when untrusted/expectDigest pinned one.
    const plain = (openPath?: string) => new File(native.fileOpen(path, mode === 'r+', openPath), path, mode);
    // { untrusted } walks the file in a child process (blocking here: prefer openAsync).
    return wantsChecks(options) ? openCheckedSync(path, options, plain) : plain();
  }

  /** open() as a Promise: the untrusted walk and the digest run off the event loop. */
  static async openAsync(path: string, options: OpenOptions = {}): Promise<File> {
    if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
    const site = new Error();
    if (isS3Url(path)) {
      File.#checkRemote(path, options);
      return withSite(site, async () => new File(await openRemoteHandleAsync(path, options), path, 'r'));
    }
    const mode = options.mode ?? 'r';
    if (mode !== 'r' && mode !== 'r+') throw new TypeError("mode must be 'r' or 'r+'");
    // openPath: the vetted descriptor (/proc/self/fd/N) when untrusted/expectDigest pinned one.
    const plain = (openPath?: string) => new File(native.fileOpen(path, mode === 'r+', openPath), path, mode);
    return withSite(site, async () => (wantsChecks(options) ? openChecked(path, options, plain) : plain()));
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
      throw new H5Error(`cannot open '${url}' with untrusted/expectDigest: remote files are opened trusted only; download it first`, {
        code: 'H5_UNSUPPORTED',
        reason: 'remote-untrusted',
      });
  }

  /** Requests and bytes a remote (s3://) file has cost so far; undefined for local files. */
  get remote(): RemoteStats & { size: number; etag: string; url: string } | undefined {
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
    return withSite(site, () => native.fileCloseAsync(this.fileHandle)).finally(() => closeRemoteHandle(this.fileHandle));
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
