/** Helpers of the hostile-file tests. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect } from 'vitest';
import { Dataset, File, H5Error, type UnsafeFileError } from '../../lib/index.js';
import { isErrorCode } from '../../lib/errors.js';
import { pythonAsync, requirePeers, tempDir } from '../helpers.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The HDF Group's CVE corpus (137 malicious files + COPYING). Never copied into
 * the repo: H5VAULT_CVE_CORPUS, else <repo>/../shared/corpus/hdf5-cve, else
 * /work/shared/corpus/hdf5-cve. Missing is a FAILURE, not a skip: CI must have it.
 */
export function corpusDir(): string {
  const candidates = [
    process.env.H5VAULT_CVE_CORPUS,
    join(REPO, '..', 'shared', 'corpus', 'hdf5-cve'),
    '/work/shared/corpus/hdf5-cve',
  ].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(join(c, 'COPYING'))) return c;
  throw new Error(
    `hostile-file corpus not found (looked in: ${candidates.join(', ')}). ` +
      'Set H5VAULT_CVE_CORPUS to the directory holding the HDF Group CVE files (cve-*.h5 and COPYING).',
  );
}

export function corpusFiles(): string[] {
  const dir = corpusDir();
  return readdirSync(dir)
    .filter((f) => f !== 'COPYING')
    .sort()
    .map((f) => join(dir, f));
}

/**
 * The walk child runs compiled JS (dist/safety/walk-child.js). When a module it loads
 * is newer in lib/ than in dist/, rebuild; if dist is still stale afterwards
 * (the build failed), fail with the reason instead of testing old code.
 */
export function ensureWalkChild(): void {
  const mods = ['safety/walk-child', 'safety/untrusted', 'safety/open', 'addon/binding', 'addon/locate', 'errors'];
  const stale = () =>
    mods.filter((m) => {
      const js = join(REPO, 'dist', `${m}.js`);
      return !existsSync(js) || statSync(join(REPO, 'lib', `${m}.ts`)).mtimeMs > statSync(js).mtimeMs;
    });
  if (stale().length === 0) return;
  const r = spawnSync('npm', ['run', '--silent', 'build:ts'], { cwd: REPO, encoding: 'utf8' });
  const still = stale();
  if (still.length > 0) {
    throw new Error(
      `dist/ is stale for ${still.join(', ')} and 'npm run build:ts' did not refresh it:\n${r.stdout}${r.stderr}`,
    );
  }
}

/** Runs fn over items with at most `width` in flight; results in input order. */
export async function pool<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  return out;
}

/** A typed error per the project's rule: H5Error (with a code), TypeError or RangeError. */
export function isTyped(e: unknown): boolean {
  return (e instanceof H5Error && isErrorCode(e.code)) || e instanceof TypeError || e instanceof RangeError;
}

export interface Exercised {
  objects: number;
  readBytes: number;
  /** Typed errors met while reading an opened file (e.g. H5_UNSUPPORTED_TYPE). */
  typedErrors: string[];
}

/**
 * Touches everything a user would in the PARENT (this process): every
 * object, link list, attribute and dataset description, and reads every
 * dataset up to `maxRead` bytes. Typed errors are collected; anything else
 * is thrown (a test failure). A native crash here would kill the test
 * process: that is what untrusted mode must prevent.
 */
export async function exercise(f: File, maxRead = 64 << 20): Promise<Exercised> {
  const res: Exercised = { objects: 0, readBytes: 0, typedErrors: [] };
  const typed = async (what: string, fn: () => unknown) => {
    try {
      await fn();
    } catch (e) {
      if (!isTyped(e)) throw e;
      res.typedErrors.push(`${what}: ${(e as H5Error).code ?? (e as Error).name}`);
    }
  };
  const objects: (File | Dataset | ReturnType<File['group']>)[] = [f];
  await typed('walk', () => {
    for (const [, o] of f.walk()) objects.push(o);
  });
  for (const o of objects) {
    res.objects++;
    let names: string[] = [];
    await typed(`attrs ${o.path}`, () => (names = o.attrs.keys()));
    for (const k of names) await typed(`attr ${o.path}@${k}`, () => o.attrs.get(k));
    if (o instanceof Dataset) {
      await typed(`describe ${o.path}`, () => [o.shape, o.dtype, o.filters, o.layout, o.viewable]);
      await typed(`read ${o.path}`, async () => {
        if (o.byteLength <= maxRead) {
          const d = await o.read();
          res.readBytes += Array.isArray(d) ? d.length : d.byteLength;
        }
      });
    } else {
      await typed(`links ${o.path}`, () => o.links());
    }
  }
  return res;
}

/**
 * The preamble every hostile-file test shares: a temp dir (removed after the
 * file's tests), `p(name)` inside it, and a beforeAll that brings the walk child
 * up to date and, given a `python` script, checks the interop peers (a missing
 * peer fails, never skips) and runs it with the dir as sys.argv[1] (then `args`)
 * to write the hostile files with h5py (asynchronously: a long synchronous wait
 * stalls vitest's worker RPC, "Timeout calling onTaskUpdate").
 */
export function hostileFiles(
  prefix: string,
  writer?: { python: string; args?: string[]; timeoutMs?: number },
): { dir: string; p: (name: string) => string } {
  const dir = tempDir(prefix);
  beforeAll(async () => {
    ensureWalkChild();
    if (!writer) return;
    requirePeers();
    // Asynchronous: decode-bombs' writer runs for minutes on a loaded machine.
    await pythonAsync(writer.python, [dir, ...(writer.args ?? [])]);
  }, writer?.timeoutMs);
  return { dir, p: (name: string) => join(dir, name) };
}

/** The H5Error an open of `path` (untrusted by default) is refused with; fails the test if it opens. */
export async function refusal(
  path: string,
  opts: Parameters<typeof File.openAsync>[1] = { untrusted: true },
): Promise<UnsafeFileError> {
  try {
    (await File.openAsync(path, opts)).close();
  } catch (e) {
    expect(e).toBeInstanceOf(H5Error);
    return e as UnsafeFileError;
  }
  throw new Error(`${path} was not refused`);
}
