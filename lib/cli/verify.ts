/**
 * `h5vault verify FILE`: for an h5vault model (saveModel's root
 * `h5vault.format` attribute), verifyModel re-hashes every tensor against
 * its stored SHA-256 and checks the model digest. For any other HDF5 file it
 * proves every dataset can be read: each is read in full (every chunk
 * decoded, fletcher32 checked where present). Failures are listed with their
 * H5Error code; exit 1 when anything failed.
 */
import type { Command } from './command.js';
import { File } from '../h5/file.js';
import { verifyModel } from '../model/index.js';
import { badArgument, INPUT_OPTIONS, parse, str } from './args.js';
import { EXIT, formatBytes, formatMs, Output } from './output.js';
import { errorSummary, isUnsupported, openInput, walkTree } from './tree.js';
import { openInput as pinInput, type Input } from '../safety/open.js';
import { isS3Url } from '../remote/url.js';

const USAGE = `Usage: h5vault verify FILE [--digest SHA256] [--untrusted] [--json]

h5vault models (written by saveModel): recomputes every tensor's SHA-256
and the model digest and compares them with those stored in the file.
Other HDF5 files: reads every dataset completely, decoding every chunk (and
checking fletcher32 checksums where the file has them). Datasets of types
h5vault cannot represent yet (H5_UNSUPPORTED_TYPE) are skipped with a
warning and listed ("skipped"); they are not failures. An object that
cannot be opened, or data that cannot be decoded (including a filter no
installed plugin provides), is a failure.
--digest refuses the file before parsing unless its SHA-256 matches: the
SHA-256 of the file's bytes (saveModel's \`digest\`, sha256sum's output, either
case), not the model digest printed below, which hashes the tensor list and
does not change when the same tensors are saved with another codec.
Exit code 0 when everything checks out, 1 when anything fails, 3 when the
file cannot be opened.`;

export interface VerifyEntry {
  path: string;
  ok: boolean;
  bytes: number;
  code?: string;
  error?: string;
  /** Not checked: a valid dataset of a type h5vault cannot represent yet (ok stays true). */
  skipped?: boolean;
}

const MODEL_FORMAT_ATTR = 'h5vault.format';

async function readAll(f: File, out: Output): Promise<VerifyEntry[]> {
  const entries: VerifyEntry[] = [];
  const datasets = [];
  for (const e of walkTree(f)) {
    if (e.kind === 'dataset') datasets.push(e.obj);
    else if (e.kind === 'error')
      entries.push({ path: e.path, ok: false, bytes: 0, code: e.error.code, error: e.error.message });
  }
  const bar = out.progress(
    'verifying',
    datasets.reduce((a, d) => a + d.byteLength, 0),
  );
  let done = 0;
  for (const ds of datasets) {
    try {
      await ds.read();
      entries.push({ path: ds.path, ok: true, bytes: ds.byteLength });
    } catch (e) {
      const { code, message } = errorSummary(e);
      if (isUnsupported(code)) {
        entries.push({ path: ds.path, ok: true, skipped: true, bytes: 0, code, error: message });
        out.note(`warning: skipped '${ds.path}': [${code}] ${message}`);
      } else {
        entries.push({ path: ds.path, ok: false, bytes: ds.byteLength, code, error: message });
      }
    }
    done += ds.byteLength;
    bar.update(done, ds.path);
  }
  bar.end();
  return entries;
}

export const command: Command = {
  summary: 'check tensor checksums (h5vault models) or read every dataset; exit 1 on failure',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { ...INPUT_OPTIONS, digest: { type: 'string' } },
      { min: 1, max: 1, names: 'FILE' },
    );
    const out = new Output(values);
    const file = positionals[0]!;
    const digest = str(values.digest)?.toLowerCase();
    if (digest !== undefined && !/^[0-9a-f]{64}$/.test(digest))
      throw badArgument('--digest', 'a SHA-256: 64 hex characters', str(values.digest)!);
    const t0 = performance.now();
    // The first open also applies --untrusted (sandboxed walk) and --digest before anything else parses the file.
    // One pinned descriptor (lib/safety/open.ts) for every open below: the file
    // walked or hashed is the file read and verified, never the path again.
    const pinned = isS3Url(file) ? undefined : await pinInput(file);
    try {
      return await verifyPinned(file, pinned, digest, values, out, t0);
    } finally {
      pinned?.close();
    }
  },
};

async function verifyPinned(
  file: string,
  pinned: Input | undefined,
  digest: string | undefined,
  values: Record<string, unknown>,
  out: Output,
  t0: number,
): Promise<number> {
  const input = pinned ? { input: pinned } : {};
  const f =
    digest || values.untrusted
      ? await File.openAsync(file, { untrusted: !!values.untrusted, expectDigest: digest, ...input })
      : pinned
        ? File.open(file, input)
        : await openInput(file, false);
  let method: 'sha256' | 'read-all';
  let entries: VerifyEntry[];
  const problems: string[] = [];
  let modelDigest: string | null = null;
  try {
    method = f.attrs.has(MODEL_FORMAT_ATTR) ? 'sha256' : 'read-all';
    entries = method === 'read-all' ? await readAll(f, out) : [];
  } finally {
    f.close();
  }
  if (method === 'sha256') {
    const r = await verifyModel(file, { expectDigest: digest, untrusted: !!values.untrusted, ...input });
    modelDigest = r.modelDigest;
    problems.push(...r.problems);
    const g = File.open(file, input);
    try {
      entries = r.tensors.map((t) => ({
        path: t.name,
        ok: t.ok,
        bytes: g.has(t.name) ? g.dataset(t.name).byteLength : 0,
        ...(t.ok
          ? {}
          : {
              code: t.error !== undefined ? 'H5_CORRUPT' : 'H5_CHECKSUM_MISMATCH',
              error: t.error ?? `SHA-256 ${t.actual ?? '(none)'} != stored ${t.expected ?? '(none)'}`,
            }),
      }));
    } finally {
      g.close();
    }
  }
  const failed = entries.filter((e) => !e.ok);
  const skipped = entries.filter((e) => e.skipped);
  for (const e of failed) {
    const i = problems.findIndex((p) => p.includes(`'${e.path}'`));
    if (i >= 0) problems[i] = `[${e.code}] ${problems[i]}`;
    else problems.push(`[${e.code}] '${e.path}': ${e.error}`);
  }
  const ok = failed.length === 0 && problems.length === 0;
  const bytes = entries.reduce((a, e) => a + e.bytes, 0);
  const ms = performance.now() - t0;
  if (out.json) {
    out.emitJson({
      file,
      ok,
      method,
      datasets: entries.length,
      failed: failed.length,
      skipped: skipped.length,
      bytes,
      ms,
      modelDigest,
      problems,
      entries,
    });
  } else {
    const what = method === 'sha256' ? 'tensors match their SHA-256' : 'datasets read back';
    const summary = `${entries.length - failed.length - skipped.length} of ${entries.length} ${what} (${formatBytes(bytes)} in ${formatMs(ms)})${skipped.length ? `, ${skipped.length} skipped (types h5vault cannot represent yet)` : ''}`;
    if (ok) {
      out.line(out.style(`OK: ${summary}${modelDigest ? `; model digest ${modelDigest}` : ''}`, 'green'));
    } else {
      for (const p of problems) out.line(out.style(`problem: ${p}`, 'red'));
      out.line(out.style(`FAILED: ${summary}`, 'red', 'bold'));
    }
  }
  return ok ? EXIT.OK : EXIT.FAILURE;
}
