/**
 * The conformance harness: reads every dataset and attribute of an HDF5 file
 * with h5vault and with h5py (h5py_dump.py, a python3 subprocess), brings
 * both to one canonical form and tallies each value as
 *
 *   match       same shape and the same elements, bit for bit (NaN = NaN, -0 != 0)
 *   refused     h5vault threw an H5Error: a typed refusal, counted by code
 *   mismatch    h5vault returned something else than h5py: the worst outcome
 *   untyped     h5vault threw something that is not an H5Error (a bug)
 *   excluded    h5py cannot read it either, or it is over the size limit
 *
 * by HDF5 type class. The canonical element form is documented in
 * h5py_dump.py; `canonical()` below rebuilds it from h5vault's JS values.
 * JS value shapes are matched structurally, not by h5vault version, so new
 * shapes for compound, enum, vlen, array, reference and opaque values are
 * compared as soon as h5vault returns them: extend CLASS_ADAPTERS (by type
 * class) or canonicalElems (by JS shape) when a value shape is not covered.
 */
import { fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Empty, halfToNumber } from '../../lib/index.js';

export const PYTHON = process.env.H5VAULT_PYTHON ?? '/usr/bin/python3';
const PLUGIN_PATH = '/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins';
const DUMP = fileURLToPath(new URL('./h5py_dump.py', import.meta.url));
/** Values with more elements than this are excluded (both sides hold them as JSON). */
export const MAX_ELEMENTS = 1 << 22;

export type Elem =
  | number
  | string
  | Elem[]
  | { $f: string }
  | { $big: string }
  | { $bytes: string }
  | { $ref: string | null }
  | { $region: string | null }
  | { $c: Record<string, Elem> };

export interface CanonValue {
  /** Dataspace shape as numpy sees the value (array-type dims trailing); null: null dataspace. */
  shape: number[] | null;
  elems: Elem[];
}

export interface PyEntry {
  kind: 'dataset' | 'attribute';
  path: string;
  object: 'group' | 'dataset' | 'datatype';
  name?: string;
  class: string;
  /** The dataspace shape (without array-type dims); null: null dataspace. */
  shape?: number[] | null;
  value?: CanonValue;
  h5pyError?: string;
  skipped?: string;
}

export interface PyDump {
  file: string;
  h5py: string;
  hdf5: string;
  entries: PyEntry[];
}

export type Outcome = 'match' | 'refused' | 'mismatch' | 'untyped' | 'excluded';

export interface Result {
  /** 'dataset /a/b', 'attribute /a/b@name', or 'walk /' for the object listing. */
  key: string;
  kind: 'dataset' | 'attribute' | 'walk';
  class: string;
  outcome: Outcome;
  /** H5Error code (refused), error name (untyped), or why it was excluded. */
  code?: string;
  /** What differed (mismatch) or the error message. */
  detail?: string;
}

export interface FileResult {
  file: string;
  /** h5py could not open it (not HDF5, HDF4, a Git LFS pointer, ...): not part of the tally. */
  h5pyFailed?: string;
  results: Result[];
}

/** The committed corpus (and the list of its files, shared with bench/small-files.mjs), and its expected outcomes. */
export { CORPUS, corpusFiles } from '../../bench/common.mjs';
export const EXPECTED = fileURLToPath(new URL('./expected.json', import.meta.url));

export type Dumped = { dump: PyDump } | { error: string };

/** Runs h5py_dump on `files`; resolves with its stdout and, when it failed, why (never rejects). */
function runDump(
  files: string[],
  maxElements: number,
  env: NodeJS.ProcessEnv,
): Promise<{ stdout: string; failure: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(PYTHON, [DUMP, String(maxElements), ...files], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), DUMP_TIMEOUT_MS);
    const done = (failure: string) => {
      clearTimeout(timer);
      resolveRun({ stdout: Buffer.concat(out).toString('utf8'), failure });
    };
    child.on('error', (e) => done(e.message));
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (code === 0) return done('');
      done(stderr.split('\n').pop() || `h5py_dump ended with ${signal ?? `exit ${code}`}`);
    });
  });
}

const DUMP_TIMEOUT_MS = 600_000;

/**
 * h5py's reading of each file (one python3 process for all of them, in
 * batches: starting h5py costs about a second), or why h5py cannot open it.
 * Asynchronous on purpose: h5py takes about a minute on some files (the 2,000
 * references of ref_hdf5_compat1.nc), and a synchronous wait that long blocks
 * the vitest worker's RPC with its runner ("Timeout calling onTaskUpdate").
 */
export async function h5pyDumpMany(
  files: string[],
  maxElements = MAX_ELEMENTS,
  batch = 16,
): Promise<Map<string, Dumped>> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (existsSync(PLUGIN_PATH)) env.HDF5_PLUGIN_PATH ??= PLUGIN_PATH;
  const out = new Map<string, Dumped>();
  for (let i = 0; i < files.length; i += batch) {
    const part = files.slice(i, i + batch);
    // A crash or timeout inside h5py: the files dumped before it keep their results.
    const { stdout, failure } = await runDump(part, maxElements, env);
    for (const line of stdout.split('\n')) {
      if (!line) continue;
      const doc = JSON.parse(line) as PyDump & { error?: string };
      out.set(doc.file, doc.error !== undefined ? { error: doc.error } : { dump: doc });
    }
    // Files after a crash are retried one by one, so one bad file costs only itself.
    const missing = part.filter((f) => !out.has(f));
    if (missing.length && batch > 1) for (const [f, d] of await h5pyDumpMany(missing, maxElements, 1)) out.set(f, d);
    else for (const f of missing) out.set(f, { error: `h5py_dump failed: ${failure || 'no output'}` });
  }
  return out;
}

export async function h5pyDump(file: string, maxElements = MAX_ELEMENTS): Promise<Dumped> {
  return (await h5pyDumpMany([file], maxElements, 1)).get(file)!;
}

// ---------------------------------------------------------------------------
// Canonical form of h5vault's values

function canonFloat(x: number): Elem {
  if (Number.isNaN(x)) return { $f: 'NaN' };
  if (x === Infinity) return { $f: 'Infinity' };
  if (x === -Infinity) return { $f: '-Infinity' };
  if (Object.is(x, -0)) return { $f: '-0' };
  return x;
}

function canonInt(x: number | bigint): Elem {
  if (typeof x === 'bigint') return x >= -(2n ** 53n - 1n) && x <= 2n ** 53n - 1n ? Number(x) : { $big: x.toString() };
  // -0 is never an integer: it is a float read where the class was not known
  // (an array-typed compound field), and must stay distinct from 0.
  return Number.isSafeInteger(x) && !Object.is(x, -0) ? x : canonFloat(x);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** UTF-8 bytes as a string when valid, else as {$bytes} (what h5py_dump does with bytes). */
function canonBytes(b: Uint8Array): Elem {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return { $bytes: hex(b) };
  }
}

function isFloatClass(cls: string): boolean {
  return cls === 'float' || cls.startsWith('float-');
}

function scalarElem(v: number | bigint | boolean, cls: string): Elem {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return canonInt(v);
  return isFloatClass(cls) ? canonFloat(v) : canonInt(v);
}

type Ctx = { cls: string; ref: CanonValue; elemBytes?: number };

/**
 * Class-specific readings of a JS value, tried before the generic shapes:
 * where one JS shape means different things for different type classes.
 * Return undefined to fall through to canonicalElems.
 */
export const CLASS_ADAPTERS: Record<string, (v: unknown, ctx: Ctx) => Elem[] | undefined> = {
  // float16 arrives as Uint16Array of raw bits.
  float: (v) => (v instanceof Uint16Array ? Array.from(v, (h) => canonFloat(halfToNumber(h))) : undefined),
  // Opaque (and bitfield, if returned as bytes): one {$bytes} per element, or
  // for bitfields the little-endian unsigned value h5py gives.
  opaque: (v, ctx) =>
    v instanceof Uint8Array ? splitBytes(v, ctx.ref.elems.length).map((b) => ({ $bytes: hex(b) })) : undefined,
  bitfield: (v, ctx) => {
    if (!(v instanceof Uint8Array) || ctx.ref.elems.length === 0 || v.length === ctx.ref.elems.length) return undefined;
    return splitBytes(v, ctx.ref.elems.length).map((b) =>
      canonInt(b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n)),
    );
  },
  // Complex pairs: an interleaved float array -> {r, i} records; a scalar
  // (one-element attribute) is documented as the pair [re, im].
  complex: (v, ctx) => {
    if (Array.isArray(v) && v.length === 2 && ctx.ref.elems.length === 1 && v.every((x) => typeof x === 'number')) {
      return [{ $c: { r: canonFloat(v[0] as number), i: canonFloat(v[1] as number) } }];
    }
    if (!(v instanceof Float32Array || v instanceof Float64Array)) return undefined;
    const out: Elem[] = [];
    for (let i = 0; i + 1 < v.length; i += 2) out.push({ $c: { r: canonFloat(v[i]!), i: canonFloat(v[i + 1]!) } });
    return out;
  },
};

function splitBytes(b: Uint8Array, n: number): Uint8Array[] {
  if (n === 0) return [];
  const size = b.length / n;
  if (!Number.isInteger(size)) return [b];
  return Array.from({ length: n }, (_, i) => b.subarray(i * size, (i + 1) * size));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * h5vault's value as a flat list of canonical elements, by JS shape:
 * scalars, typed arrays, strings, arrays of any of these (vlen sequences,
 * records), column objects (compound: { field: column }) and reference
 * objects ({ path } / { path, selection }).
 */
export function canonicalElems(v: unknown, ctx: Ctx): Elem[] {
  const adapted = CLASS_ADAPTERS[ctx.cls]?.(v, ctx);
  if (adapted) return adapted;
  if (v === undefined || v === null) return [];
  // A null dataspace: h5vault's documented Empty (with its type), no elements.
  if (v instanceof Empty) return [];
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return [scalarElem(v, ctx.cls)];
  if (typeof v === 'string') return [v];
  if (v instanceof Uint8Array && (ctx.cls.startsWith('string') || ctx.cls === 'opaque')) return [canonBytes(v)];
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const a = v as unknown as ArrayLike<number | bigint>;
    return Array.from(a, (x) => scalarElem(x, ctx.cls));
  }
  if (Array.isArray(v)) {
    // Elements that are themselves sequences (vlen) stay nested; records and
    // references become one element each.
    // Each sequence is read against its own h5py element, so that what is
    // inside it (strings, references, records) is not taken for nesting.
    // A flat column (strings of an array-typed field) is not a sequence list.
    const sample = ctx.ref.elems[0];
    // Sequences are columns: arrays, typed arrays, or compound column objects.
    const isSeq = (x: unknown) =>
      Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView)) || (isPlainObject(x) && !isRefObject(x));
    if (Array.isArray(sample) && v.every(isSeq)) {
      return v.map((x, i) => {
        const own = ctx.ref.elems[i];
        return canonicalElems(x, {
          cls: innerClass(ctx.cls),
          ref: { shape: null, elems: Array.isArray(own) ? own : [] },
        }) as Elem;
      });
    }
    // Records (and reference objects) are read against their own element.
    return v.flatMap((x, i) =>
      canonicalElems(
        x,
        isPlainObject(x) ? { ...ctx, ref: { shape: [1], elems: [ctx.ref.elems[i] ?? null] as Elem[] } } : ctx,
      ),
    );
  }
  if (isPlainObject(v)) {
    if ('path' in v && (ctx.cls === 'reference' || 'selection' in v || isRefObject(v))) {
      const path = (v.path ?? null) as string | null;
      return ['selection' in v || 'region' in v || v.kind === 'region' ? { $region: path } : { $ref: path }];
    }
    // Compound, column-wise: { field: column } -> one {$c} record per element.
    // A compound-typed array field holds k records per element (h5py: an
    // array of k records each): its columns have n x k values, read against
    // the records in order, and arrayField cuts them back into n arrays.
    const fields = Object.keys(v);
    const recs =
      ctx.ref.elems.length > 0 && ctx.ref.elems.every((e) => Array.isArray(e))
        ? (ctx.ref.elems as Elem[][]).flat()
        : ctx.ref.elems;
    const ref: CanonValue = { shape: [recs.length], elems: recs };
    const n = recs.length;
    const cols = fields.map((k) => {
      const sub = subRef(ref, k);
      return arrayField(canonicalElems(v[k], { cls: sub.cls, ref: sub.value }), sub.value.elems);
    });
    // A compound scalar given as one record object
    if (n === 1 && cols.every((c) => c.length === 1))
      return [{ $c: Object.fromEntries(fields.map((k, i) => [k, cols[i]![0]!])) }];
    return Array.from(
      { length: n },
      (_, i) => ({ $c: Object.fromEntries(fields.map((k, j) => [k, cols[j]![i] ?? null])) }) as Elem,
    );
  }
  return [String(v)];
}

/** h5vault's reference value: { kind: 'object' | 'region' | null, path[, selection] } and nothing else. */
function isRefObject(v: Record<string, unknown>): boolean {
  const keys = Object.keys(v);
  return (
    'kind' in v &&
    (v.kind === 'object' || v.kind === 'region' || v.kind === null) &&
    keys.every((k) => k === 'kind' || k === 'path' || k === 'selection')
  );
}

/**
 * A compound field of array type: h5vault gives the field as one column of
 * n x prod(dims) values (the dims trailing, row-major: docs/types.md), h5py
 * one flattened array per record. The column is cut into the records' arrays
 * only when it has exactly n x k plain values and every h5py element is an
 * array of k; anything else is compared as it is (and differs).
 */
function arrayField(col: Elem[], ref: Elem[]): Elem[] {
  if (ref.length === 0 || !ref.every((e) => Array.isArray(e))) return col;
  const k = (ref[0] as Elem[]).length;
  if (
    !ref.every((e) => (e as Elem[]).length === k) ||
    col.length !== ref.length * k ||
    col.some((e) => Array.isArray(e))
  )
    return col;
  return Array.from({ length: ref.length }, (_, i) => col.slice(i * k, (i + 1) * k));
}

function innerClass(cls: string): string {
  return cls === 'vlen' ? 'vlen-inner' : cls;
}

/** The reference column of one compound field: its elements and a class guessed from them. */
function subRef(ref: CanonValue, field: string): { cls: string; value: CanonValue } {
  const elems = ref.elems.map((e) =>
    isPlainObject(e) && '$c' in e ? ((e as { $c: Record<string, Elem> }).$c[field] ?? null) : null,
  ) as Elem[];
  const first = elems.find((e) => e !== null);
  const cls =
    isPlainObject(first) && ('$ref' in first || '$region' in first)
      ? 'reference'
      : typeof first === 'number'
        ? elems.some((e) => typeof e === 'number' && !Number.isInteger(e)) || isF(elems)
          ? 'float'
          : 'integer'
        : typeof first === 'string'
          ? 'string-fixed'
          : isPlainObject(first) && '$c' in first
            ? 'compound'
            : isPlainObject(first) && '$bytes' in first
              ? 'opaque'
              : 'compound-field';
  return { cls, value: { shape: [elems.length], elems } };
}

function isF(elems: Elem[]): boolean {
  return elems.some((e) => isPlainObject(e) && '$f' in e);
}

/** JSON with sorted object keys: canonical text for comparison. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (isPlainObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

/**
 * Strings whose bytes are not UTF-8: h5py gives the bytes ({$bytes}),
 * h5vault text decoded one byte per character (latin1, docs/types.md). The
 * string is taken as those bytes only when it is exactly them (every
 * character below U+0100, Buffer.from(s, 'latin1') equal to h5py's bytes);
 * any other string stays a string, and differs.
 */
export function asLatin1(got: Elem, want: Elem | undefined): Elem {
  if (want === undefined) return got;
  if (typeof got === 'string' && isPlainObject(want) && '$bytes' in want) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: Latin-1 range check; U+0000..U+00FF includes the C0 controls on purpose
    return /^[\u0000-\u00ff]*$/.test(got) && Buffer.from(got, 'latin1').toString('hex') === want.$bytes ? want : got;
  }
  if (Array.isArray(got) && Array.isArray(want) && got.length === want.length)
    return got.map((g, i) => asLatin1(g, want[i]));
  if (isPlainObject(got) && '$c' in got && isPlainObject(want) && '$c' in want) {
    const g = got.$c as Record<string, Elem>;
    const w = want.$c as Record<string, Elem>;
    return { $c: Object.fromEntries(Object.keys(g).map((k) => [k, asLatin1(g[k]!, w[k])])) };
  }
  return got;
}

function firstDifference(a: Elem[], b: Elem[]): string {
  if (a.length !== b.length) return `${a.length} elements, h5py has ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = stableStringify(a[i]);
    const y = stableStringify(b[i]);
    if (x !== y) return `element ${i}: h5vault ${x.slice(0, 120)}, h5py ${y.slice(0, 120)}`;
  }
  return 'same elements';
}

// ---------------------------------------------------------------------------
// Running one file

function compare(
  key: string,
  kind: Result['kind'],
  p: PyEntry,
  got: unknown,
  shape: number[] | null | undefined,
): Result {
  const ref = p.value!;
  let elems: Elem[];
  try {
    elems = canonicalElems(got, { cls: p.class, ref });
  } catch (e) {
    return {
      key,
      kind,
      class: p.class,
      outcome: 'untyped',
      code: 'HarnessError',
      detail: `cannot canonicalise h5vault's value: ${(e as Error).message}`,
    };
  }
  if (shape !== undefined && p.shape !== undefined && stableStringify(shape) !== stableStringify(p.shape)) {
    return {
      key,
      kind,
      class: p.class,
      outcome: 'mismatch',
      detail: `shape ${stableStringify(shape)}, h5py ${stableStringify(p.shape)}`,
    };
  }
  elems = elems.map((e, i) => asLatin1(e, ref.elems[i]));
  if (stableStringify(elems) !== stableStringify(ref.elems)) {
    return { key, kind, class: p.class, outcome: 'mismatch', detail: firstDifference(elems, ref.elems) };
  }
  return { key, kind, class: p.class, outcome: 'match' };
}

function entryKey(p: PyEntry): string {
  return p.kind === 'dataset' ? `dataset ${p.path}` : `attribute ${p.path}@${p.name}`;
}

/** A value read in the child: an Empty crosses as { $empty: true }. */
type ChildError = { h5: boolean; code?: string; name?: string; message: string };
type ChildMsg =
  | { openError: ChildError }
  | { walk: string[] }
  | { walkError: ChildError }
  | { at: number; started: true }
  | { at: number; value: unknown; shape?: number[] }
  | { at: number; error: ChildError }
  | { done: true };

const CHILD = fileURLToPath(new URL('./read-child.mjs', import.meta.url));
/** A file whose reading takes longer than this is failed as a hang. */
export const FILE_TIMEOUT_MS = 120_000;
/** Crashes tolerated in one file before the rest of its values are given up. */
const MAX_CRASHES = 8;

function childFailure(e: ChildError): { outcome: 'refused' | 'untyped'; code: string; detail: string } {
  return e.h5
    ? { outcome: 'refused', code: e.code!, detail: e.message }
    : { outcome: 'untyped', code: e.name ?? 'Error', detail: e.message };
}

interface ChildRun {
  messages: ChildMsg[];
  /** Why the child ended before { done }: 'SIGSEGV', 'exit 1', 'timeout' ... */
  died?: string;
  stderr: string;
}

/** One child reading `file`'s entries from `from` on (read-child.mjs). */
function readInChild(
  file: string,
  entries: PyEntry[],
  from: number,
  walk: boolean,
  timeoutMs: number,
): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = fork(CHILD, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const run: ChildRun = { messages: [], stderr: '' };
    let done = false;
    const timer = setTimeout(() => {
      run.died = 'timeout';
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stderr!.on('data', (b: Buffer) => {
      run.stderr = (run.stderr + b.toString()).slice(-2000);
    });
    child.on('message', (m: ChildMsg) => {
      run.messages.push(m);
      if ('done' in m) done = true;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (!done) run.died ??= signal ?? `exit ${code}`;
      resolve(run);
    });
    child.send({
      file,
      from,
      walk,
      entries: entries.map(({ kind, path, object, name }) => ({ kind, path, object, name })),
    });
  });
}

/**
 * Compares every dataset and attribute h5py reads in `file` with h5vault's
 * reading, done in a child process: a crash (or hang) of the reader fails the
 * value it was reading (outcome untyped, code SIGSEGV / timeout / exit N), and
 * a new child goes on with the values after it.
 */
export async function runFile(file: string, dumped?: Dumped, timeoutMs = FILE_TIMEOUT_MS): Promise<FileResult> {
  const py = dumped ?? (await h5pyDump(file));
  if ('error' in py) return { file, h5pyFailed: py.error, results: [] };
  const entries = py.dump.entries;
  const byIndex: (Result | undefined)[] = new Array(entries.length);
  const results: Result[] = [];
  const crash = (died: string, stderr: string, where: string) => ({
    outcome: 'untyped' as const,
    code: died,
    detail: `the reading process died (${died}) ${where}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
  });
  let from = 0;
  let walk = true;
  for (let crashes = 0; ; crashes++) {
    const run = await readInChild(file, entries, from, walk, timeoutMs);
    let current = -1;
    let finished = false;
    for (const m of run.messages) {
      if ('openError' in m) {
        for (const [i, p] of entries.entries())
          byIndex[i] = { key: entryKey(p), kind: p.kind, class: p.class, ...childFailure(m.openError) };
        return { file, results: entries.map((_, i) => byIndex[i]!) };
      } else if ('walk' in m) {
        const pyDatasets = entries
          .filter((p) => p.kind === 'dataset')
          .map((p) => p.path)
          .sort();
        const ours = [...m.walk].sort();
        results.push(
          stableStringify(ours) === stableStringify(pyDatasets)
            ? { key: 'walk /', kind: 'walk', class: 'structure', outcome: 'match' }
            : {
                key: 'walk /',
                kind: 'walk',
                class: 'structure',
                outcome: 'mismatch',
                detail: `walk() lists [${ours.filter((x) => !pyDatasets.includes(x)).join(', ')}] extra, [${pyDatasets.filter((x) => !ours.includes(x)).join(', ')}] missing`,
              },
        );
      } else if ('walkError' in m) {
        results.push({ key: 'walk /', kind: 'walk', class: 'structure', ...childFailure(m.walkError) });
      } else if ('started' in m) {
        current = m.at;
      } else if ('at' in m) {
        const p = entries[m.at]!;
        const key = entryKey(p);
        if (p.h5pyError !== undefined || p.skipped !== undefined) {
          byIndex[m.at] = {
            key,
            kind: p.kind,
            class: p.class,
            outcome: 'excluded',
            code: p.h5pyError !== undefined ? 'h5py-error' : 'too-large',
            detail: p.h5pyError ?? p.skipped,
          };
        } else if ('error' in m) {
          byIndex[m.at] = { key, kind: p.kind, class: p.class, ...childFailure(m.error) };
        } else {
          // An Empty reads as no elements (canonicalElems), as null does.
          const value = isPlainObject(m.value) && m.value.$empty === true ? null : m.value;
          byIndex[m.at] = compare(
            key,
            p.kind,
            p,
            value,
            p.kind === 'dataset' && p.shape !== null ? m.shape : undefined,
          );
        }
        current = -1;
      } else if ('done' in m) {
        finished = true;
      }
    }
    if (!run.died || finished) break;
    if (walk && !results.some((r) => r.key === 'walk /')) {
      // The listing itself crashed: the next child reads the values without it.
      results.push({
        key: 'walk /',
        kind: 'walk',
        class: 'structure',
        ...crash(run.died, run.stderr, 'listing the file'),
      });
    } else if (current < 0) {
      const unread = entries.findIndex((_, i) => i >= from && byIndex[i] === undefined);
      if (unread < 0) {
        // Every value was read; the crash came when the file was closed.
        results.push({
          key: 'close /',
          kind: 'walk',
          class: 'structure',
          ...crash(run.died, run.stderr, 'closing the file'),
        });
        break;
      }
      current = unread; // died between two values: the next one fails
    }
    if (current >= 0) {
      const p = entries[current]!;
      byIndex[current] = {
        key: entryKey(p),
        kind: p.kind,
        class: p.class,
        ...crash(run.died, run.stderr, 'reading this value'),
      };
      from = current + 1;
    }
    walk = false;
    if (from >= entries.length) break;
    if (crashes + 1 >= MAX_CRASHES) {
      for (let i = from; i < entries.length; i++) {
        const q = entries[i]!;
        byIndex[i] = {
          key: entryKey(q),
          kind: q.kind,
          class: q.class,
          outcome: 'untyped',
          code: 'not-read',
          detail: `not read: the reader crashed ${MAX_CRASHES} times in this file`,
        };
      }
      break;
    }
  }
  for (const [i, p] of entries.entries()) {
    results.push(
      byIndex[i] ?? {
        key: entryKey(p),
        kind: p.kind,
        class: p.class,
        outcome: 'untyped',
        code: 'not-read',
        detail: 'the reading process never reported this value',
      },
    );
  }
  return { file, results };
}

// ---------------------------------------------------------------------------
// Tallies

export type Tally = Record<string, Record<Outcome, number>>;

export function tally(files: FileResult[], by: (r: Result) => string = (r) => r.class): Tally {
  const t: Tally = {};
  for (const fr of files) {
    for (const r of fr.results) {
      const k = by(r);
      t[k] ??= { match: 0, refused: 0, mismatch: 0, untyped: 0, excluded: 0 };
      t[k][r.outcome]++;
    }
  }
  return Object.fromEntries(Object.entries(t).sort(([a], [b]) => a.localeCompare(b)));
}

/** Refusals by class and H5Error code: 'compound H5_UNSUPPORTED_TYPE' -> n. */
export function refusals(files: FileResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const fr of files)
    for (const r of fr.results)
      if (r.outcome === 'refused') out[`${r.class} ${r.code}`] = (out[`${r.class} ${r.code}`] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** A markdown table of a tally, with a total row. */
export function tallyTable(t: Tally, label = 'type class'): string {
  const cols: Outcome[] = ['match', 'refused', 'mismatch', 'untyped', 'excluded'];
  const total = { match: 0, refused: 0, mismatch: 0, untyped: 0, excluded: 0 };
  const rows = Object.entries(t).map(([k, v]) => {
    for (const c of cols) total[c] += v[c];
    return `| ${k} | ${cols.map((c) => v[c]).join(' | ')} |`;
  });
  return [
    `| ${label} | ${cols.join(' | ')} |`,
    `|---|${cols.map(() => '---:').join('|')}|`,
    ...rows,
    `| **total** | ${cols.map((c) => `**${total[c]}**`).join(' | ')} |`,
  ].join('\n');
}

/** The per-value outcomes the expected-tally file records: 'match' or 'refused CODE'. */
export function expectations(
  files: FileResult[],
  base: (file: string) => string,
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const fr of files) {
    const m: Record<string, string> = {};
    if (fr.h5pyFailed !== undefined) m['(file)'] = 'not HDF5';
    for (const r of fr.results)
      m[r.key] =
        r.outcome === 'refused' ? `refused ${r.code}` : r.outcome === 'excluded' ? `excluded ${r.code}` : r.outcome;
    out[base(fr.file)] = m;
  }
  return out;
}
