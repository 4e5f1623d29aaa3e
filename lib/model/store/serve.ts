/**
 * ModelStore.serve: keep one version of a model loaded for requests, swap to
 * each newly published version once it is completely loaded and verified,
 * and retire a version (user `dispose`, then close the file) when the last
 * request holding it ends. Documented in docs/runtime.md#serving-and-hot-swap.
 *
 * Every version in memory is a Slot with a reference count: one reference
 * while it is current, one per lease (an in-flight request). Swapping is a
 * single assignment on the JS thread, so a request acquires either the old
 * slot or the new one, never something in between; the old slot loses its
 * "current" reference at that moment and retires when its count reaches 0.
 */
import { performance } from 'node:perf_hooks';
import { H5Error } from '../../errors.js';
import type { LoadedModel } from '../load.js';
import type { ServableStore, StoreLoadOptions, VersionInfo } from './common.js';
import { booleanOption, checkFunction, checkObject, functionOption, numberOption } from '../../util/validate.js';

export type { ServableStore } from './common.js';

/** A version as ModelStore.load returns it: verified, with its number. */
export type ServedModel = LoadedModel & { version: number };

export interface SwapEvent {
  name: string;
  /** The version served before (null for the first one). */
  from: number | null;
  to: number;
  info: VersionInfo;
  /** Time from noticing the version to serving it: hash, verify, your `load` (ms). */
  loadMs: number;
}

/**
 * Why a version was refused: an H5Error (H5_CHECKSUM_MISMATCH for a corrupt
 * version, H5_NOT_FOUND if pruned, ...) or the Error your `load` threw (a
 * thrown non-Error arrives wrapped in one, as its `cause`). `error.code`
 * reads without a cast: an H5Error's code, or whatever code the Error has.
 */
export type RejectError = H5Error | (Error & { code?: string });

export interface RejectEvent {
  name: string;
  version: number;
  error: RejectError;
  /** The version that keeps serving (null only while starting). */
  serving: number | null;
}

export interface RetireEvent {
  name: string;
  version: number;
  /** What `dispose` threw, if it did (the file is closed anyway). */
  error?: unknown;
}

export interface ServeOptions<R> {
  /**
   * Turns a loaded, verified version into what requests use (an ONNX Runtime
   * session, a compiled graph, ...). Runs before the version is served; if
   * it throws, the version is rejected and the current one keeps serving.
   * Default: the loaded model itself.
   */
  load?: (model: ServedModel, info: VersionInfo) => R | Promise<R>;
  /** Frees what `load` made, when the version retires (before its file is closed). */
  dispose?: (runtime: R, model: ServedModel) => void | Promise<void>;
  /** A version is now served (also for the first one, with from: null). */
  onSwap?: (event: SwapEvent) => void;
  /** A version was refused; the previous one keeps serving. */
  onReject?: (event: RejectEvent) => void;
  /** A version left memory: no request holds it any more and it is not current. */
  onRetire?: (event: RetireEvent) => void;
  /** Errors that belong to no version (the index cannot be read) and errors thrown by the callbacks above. Default: rethrown asynchronously. */
  onError?: (err: unknown) => void;
  /** Passed to ModelStore.load for every version (verify, copy, signal). */
  loadOptions?: StoreLoadOptions;
  /** Polling period of the watch (ModelStore.watch's intervalMs, default 1000). */
  intervalMs?: number;
  /** Keep the process alive while serving (default true). */
  persistent?: boolean;
}

/** One request's hold on a version: valid until release(), however many swaps happen meanwhile. */
export interface Lease<R> {
  /** What `load` returned for this version (the loaded model without `load`). */
  readonly model: R;
  readonly loaded: ServedModel;
  readonly version: number;
  readonly info: VersionInfo;
  /** Ends the hold (idempotent). The version retires when its last lease is released and it is no longer current. */
  release(): void;
  [Symbol.dispose](): void;
}

interface Slot<R> {
  version: number;
  info: VersionInfo;
  loaded: ServedModel;
  runtime: R;
  refs: number;
  retired?: Promise<void>;
}

export class ModelServer<R> {
  readonly name: string;
  readonly #store: ServableStore;
  readonly #o: ServeOptions<R>;
  #current: Slot<R> | null = null;
  readonly #live = new Set<Slot<R>>();
  #stopWatch: (() => void) | undefined;
  #swapping: Promise<void> = Promise.resolve();
  #closed: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  /** @internal use ModelStore.serve */
  constructor(store: ServableStore, name: string, options: ServeOptions<R>) {
    this.#store = store;
    this.name = name;
    this.#o = options;
  }

  /** The version new requests get. */
  get version(): number {
    return this.#slot().version;
  }

  /** The index record of the version new requests get. */
  get info(): VersionInfo {
    return this.#slot().info;
  }

  /** Versions still in memory, current first, with how many leases hold each (the current one counts one for being current). */
  get live(): { version: number; refs: number }[] {
    return [...this.#live]
      .sort((a, b) => (a === this.#current ? -1 : b === this.#current ? 1 : b.version - a.version))
      .map((s) => ({ version: s.version, refs: s.refs }));
  }

  #slot(): Slot<R> {
    if (this.#closed || !this.#current)
      throw new H5Error(`the server of '${this.name}' is closed`, { code: 'H5_CLOSED' });
    return this.#current;
  }

  /**
   * Holds the current version for one request. Synchronous: the version is
   * already loaded. Release it in a finally (or with `using`).
   * @example const lease = server.acquire(); try { run(lease.model) } finally { lease.release() }
   */
  acquire(): Lease<R> {
    const slot = this.#slot();
    slot.refs++;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.#unref(slot);
    };
    return {
      model: slot.runtime,
      loaded: slot.loaded,
      version: slot.version,
      info: slot.info,
      release,
      [Symbol.dispose]: release,
    };
  }

  /**
   * Runs `fn` with the current version and releases it when `fn` settles.
   * @example const out = await server.use((session, lease) => session.run(feeds));
   */
  async use<T>(fn: (model: R, lease: Lease<R>) => T | Promise<T>): Promise<T> {
    checkFunction(fn, 'use() callback');
    const lease = this.acquire();
    try {
      return await fn(lease.model, lease);
    } finally {
      lease.release();
    }
  }

  /**
   * Stops watching, waits for a swap in progress, and resolves once every
   * version has retired: the current one at once, the others when their last
   * lease is released. acquire() throws H5_CLOSED from the first call on.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stopWatch?.();
      await this.#swapping;
      // Every slot leaves #live when it has retired; the last one resolves this (leases may still be out).
      const drained = new Promise<void>((r) => {
        this.#drained = r;
      });
      const cur = this.#current;
      if (cur) this.#unref(cur);
      if (this.#live.size === 0) this.#drained?.();
      await drained;
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #emit<E>(cb: ((e: E) => void) | undefined, e: E): void {
    if (!cb) return;
    try {
      cb(e);
    } catch (err) {
      this.#report(err);
    }
  }

  #report(err: unknown): void {
    if (this.#o.onError) this.#o.onError(err);
    else
      queueMicrotask(() => {
        throw err;
      });
  }

  #unref(slot: Slot<R>): void {
    if (--slot.refs > 0 || slot.retired) return;
    slot.retired = (async () => {
      let error: unknown;
      try {
        if (this.#o.dispose) await this.#o.dispose(slot.runtime, slot.loaded);
      } catch (e) {
        error = e;
      }
      slot.loaded.close();
      this.#live.delete(slot);
      if (this.#live.size === 0) this.#drained?.();
      this.#emit(this.#o.onRetire, {
        name: this.name,
        version: slot.version,
        ...(error === undefined ? {} : { error }),
      });
    })();
  }

  /** Loads, verifies and prepares one version; nothing is visible to requests until it resolves. */
  async #prepare(version: number): Promise<Slot<R>> {
    const info = (await this.#store.versions(this.name)).find((v) => v.version === version);
    if (!info)
      throw new H5Error(`model '${this.name}' has no version ${version} (it was pruned)`, { code: 'H5_NOT_FOUND' });
    const loaded = await this.#store.load(this.name, version, this.#o.loadOptions);
    try {
      const runtime = this.#o.load ? await this.#o.load(loaded, info) : (loaded as unknown as R);
      return { version, info, loaded, runtime, refs: 1 };
    } catch (e) {
      loaded.close();
      throw e;
    }
  }

  /** Resolves to the rejection error, if the version was refused. */
  async #swapTo(version: number): Promise<unknown> {
    if (this.#closed || version === this.#current?.version) return undefined;
    const t0 = performance.now();
    let slot: Slot<R>;
    try {
      slot = await this.#prepare(version);
    } catch (e) {
      const error: RejectError =
        e instanceof Error ? e : new Error(`version ${version} was refused: load threw ${String(e)}`, { cause: e });
      this.#emit(this.#o.onReject, { name: this.name, version, error, serving: this.#current?.version ?? null });
      return error;
    }
    this.#live.add(slot);
    if (this.#closed) {
      this.#unref(slot);
      return undefined;
    }
    const old = this.#current;
    this.#current = slot; // the swap: requests from here on get the new version
    this.#emit(this.#o.onSwap, {
      name: this.name,
      from: old?.version ?? null,
      to: version,
      info: slot.info,
      loadMs: performance.now() - t0,
    });
    if (old) this.#unref(old);
    return undefined;
  }

  /** @internal first version: the latest that loads, newest first (refused ones are reported); then watch. */
  async start(): Promise<void> {
    const versions = (await this.#store.versions(this.name)).map((v) => v.version).reverse();
    if (!versions.length) {
      throw new H5Error(`model '${this.name}' has no versions in '${this.#store.root}' to serve`, {
        code: 'H5_NOT_FOUND',
      });
    }
    // A restart after a corrupt version was published must not take the service down:
    // fall back to the newest version that loads. If none does, the newest one's error says why.
    let newest: unknown;
    for (const v of versions) {
      const err = await this.#swapTo(v);
      if (this.#current) break;
      newest ??= err;
    }
    if (!this.#current) throw newest;
    this.#stopWatch = this.#store.watch(
      this.name,
      async (v) => {
        // watch awaits this callback, so swaps run one at a time in publish order.
        this.#swapping = this.#swapTo(v).then(() => undefined);
        await this.#swapping;
      },
      {
        from: versions[0],
        intervalMs: this.#o.intervalMs,
        persistent: this.#o.persistent,
        onError: (e) => this.#report(e),
      },
    );
  }
}

function checkOptions(o: ServeOptions<unknown>): void {
  checkObject(o);
  for (const k of ['load', 'dispose', 'onSwap', 'onReject', 'onRetire', 'onError']) functionOption(o, k);
  if (o.loadOptions !== undefined) checkObject(o.loadOptions, 'options.loadOptions');
  booleanOption(o, 'persistent');
  numberOption(o, 'intervalMs', { min: 10 });
}

/** @internal ModelStore.serve. */
export async function serveModel<R>(
  store: ServableStore,
  name: string,
  options: ServeOptions<R>,
): Promise<ModelServer<R>> {
  checkOptions(options as ServeOptions<unknown>);
  store.dir(name); // validates the name
  const server = new ModelServer<R>(store, name, options);
  await server.start();
  return server;
}
