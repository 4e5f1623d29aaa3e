/**
 * Global heap IDs from damaged bytes (native/h5/heap_check.h). libhdf5 1.10.8
 * follows a vlen element's or a region reference's heap ID without checking
 * it: an index past the collection, a free slot, a length that disagrees with
 * the heap object, or a collection whose objects overrun it give out-of-bounds
 * reads and writes (seen: SIGSEGV in H5HG_read under H5Aread, after the
 * untrusted walk had passed the file) or an endless loop.
 *
 * An h5py-written file with vlen strings and sequences (attributes; contiguous,
 * chunked and compact datasets; a compound member) and region references is
 * damaged at every heap ID it holds and in every object header of its heap
 * collection. Each damaged file is read whole in a child process, opened
 * read-only, as an in-memory image (File.fromBuffer) and with { untrusted: true }. Every value must come back as the
 * undamaged file's value or fail typed; no child may crash or hang.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { File, H5Error } from '../../lib/index.js';
import { PYTHON, requirePeers, tempDir } from '../helpers.js';
import { REPO, ensureWalkChild } from './helpers.js';

const dir = tempDir('h5vault-heap-ids-');
const base = join(dir, 'base.h5');
let bytes: Buffer;

/** The child: reads every attribute and dataset of each file and prints one
 * line per file. A crash or hang loses only the file being read. */
const CHILD = `
import { File } from ${JSON.stringify(join(REPO, 'dist', 'index.js'))};
import { readFileSync } from 'node:fs';
const jobs = JSON.parse(readFileSync(process.argv[1], 'utf8'));
const start = Number(process.argv[2]);
import { createHash } from 'node:crypto';
// A value as its digest and a short preview: damaged lengths can read megabytes.
const plain = (v) => {
  const s = JSON.stringify(v, (k, x) => typeof x === 'bigint' ? String(x) : ArrayBuffer.isView(x) ? Array.from(x) : x);
  return createHash('sha256').update(s).digest('hex').slice(0, 16) + ' ' + s.slice(0, 160);
};
for (let i = start; i < jobs.length; i++) {
  const { path, mode } = jobs[i];
  process.stdout.write('BEGIN ' + i + '\\n');
  const values = {}, errors = {};
  const typed = async (key, fn) => {
    try { values[key] = plain(await fn()); }
    catch (e) {
      if (!e || typeof e.code !== 'string') { errors[key] = 'UNTYPED ' + String(e && e.stack || e); return; }
      errors[key] = e.code;
    }
  };
  let f;
  try {
    f = mode === 'untrusted' ? await File.openAsync(path, { untrusted: true, limits: { timeoutMs: 20000 } })
      : mode === 'buffer' ? File.fromBuffer(readFileSync(path))
      : File.open(path);
  } catch (e) {
    errors.open = e && typeof e.code === 'string' ? e.code + (e.reason ? ':' + e.reason : '') : 'UNTYPED ' + String(e);
  }
  if (f) {
    const objs = [['/', f]];
    try { for (const [p, o] of f.walk()) objs.push([p, o]); } catch (e) { errors.walk = e && e.code || 'UNTYPED ' + e; }
    for (const [p, o] of objs) {
      let names = [];
      try { names = o.attrs.keys(); } catch (e) { errors[p + '@'] = e && e.code || 'UNTYPED ' + e; }
      for (const k of names) await typed(p + '@' + k, () => o.attrs.get(k));
      if (o.kind === 'dataset') await typed(p, () => o.read());
    }
    f.close();
  }
  process.stdout.write('END ' + i + ' ' + JSON.stringify({ values, errors }) + '\\n');
}
`;

interface Outcome {
  values: Record<string, string>;
  errors: Record<string, string>;
}
type Result = Outcome | { crash: string };

/** Runs the jobs in child processes, restarting after the job that took one down. */
type Mode = 'read-only' | 'untrusted' | 'buffer';

async function runJobs(jobs: { path: string; mode: Mode }[], hangMs = 60_000): Promise<Result[]> {
  const list = join(dir, `jobs-${Date.now()}-${Math.random()}.json`);
  writeFileSync(list, JSON.stringify(jobs));
  const results: Result[] = new Array(jobs.length);
  let next = 0;
  while (next < jobs.length) {
    const { lines, code, signal, stderr } = await new Promise<{
      lines: string[];
      code: number | null;
      signal: string | null;
      stderr: string;
    }>((resolve) => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', CHILD, list, String(next)], { cwd: REPO });
      let out = '';
      let err = '';
      let timer = setTimeout(() => c.kill('SIGKILL'), hangMs);
      c.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        clearTimeout(timer); // progress: each file gets its own hangMs
        timer = setTimeout(() => c.kill('SIGKILL'), hangMs);
      });
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      c.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ lines: out.split('\n'), code, signal, stderr: err });
      });
    });
    let begun = -1;
    for (const line of lines) {
      const m = /^(BEGIN|END) (\d+)(?: (.*))?$/.exec(line);
      if (!m) continue;
      const i = Number(m[2]);
      if (m[1] === 'BEGIN') begun = i;
      else {
        try {
          results[i] = JSON.parse(m[3]!) as Outcome;
          next = i + 1;
        } catch {
          break; // a line cut short by the child's death
        }
      }
    }
    if (next < jobs.length && begun === next) {
      results[next] = {
        crash: `child ended with ${signal ?? `exit ${code}`} reading ${jobs[next]!.path}: ${stderr.slice(-400)}`,
      };
      next++;
    } else if (next < jobs.length) {
      throw new Error(`child failed before job ${next}: ${signal ?? code} ${stderr.slice(-1000)}`);
    }
  }
  return results;
}

// --- the file's heap, as the HDF5 format specification lays it out (8-byte sizes and addresses)

interface HeapObject {
  idx: number;
  offset: number;
  size: number;
}

interface HeapCollection {
  at: number;
  size: number;
  objects: HeapObject[];
  free?: number;
}

function collections(b: Buffer): HeapCollection[] {
  const out: HeapCollection[] = [];
  for (let at = b.indexOf('GCOL'); at >= 0; at = b.indexOf('GCOL', at + 1)) {
    if (b[at + 4] !== 1) continue;
    const size = Number(b.readBigUInt64LE(at + 8));
    const objects: HeapObject[] = [];
    let free: number | undefined;
    for (let p = 16; p + 16 <= size; ) {
      const idx = b.readUInt16LE(at + p);
      const osize = Number(b.readBigUInt64LE(at + p + 8));
      if (idx === 0) {
        free = at + p;
        break;
      }
      objects.push({ idx, offset: at + p, size: osize });
      p += 16 + Math.ceil(osize / 8) * 8;
    }
    out.push(free === undefined ? { at, size, objects } : { at, size, objects, free });
  }
  return out;
}

/** Every place in the file that stores a heap ID (address + index) of one of its objects. */
function heapIdSites(b: Buffer, colls: HeapCollection[]): { at: number; idx: number }[] {
  const sites: { at: number; idx: number }[] = [];
  for (const c of colls) {
    for (const o of c.objects) {
      const pat = Buffer.alloc(12);
      pat.writeBigUInt64LE(BigInt(c.at));
      pat.writeUInt32LE(o.idx, 8);
      for (let at = b.indexOf(pat); at >= 0; at = b.indexOf(pat, at + 1)) sites.push({ at, idx: o.idx });
    }
  }
  return sites.sort((x, y) => x.at - y.at);
}

function damage(b: Buffer): { name: string; bytes: Buffer }[] {
  const colls = collections(b);
  const out: { name: string; bytes: Buffer }[] = [];
  const variant = (name: string, edit: (c: Buffer) => void) => {
    const c = Buffer.from(b);
    edit(c);
    out.push({ name, bytes: c });
  };
  for (const s of heapIdSites(b, colls)) {
    variant(`id@${s.at} index past the collection`, (c) => c.writeUInt32LE(999, s.at + 8));
    variant(`id@${s.at} index 0xfffffff0`, (c) => c.writeUInt32LE(0xfffffff0, s.at + 8));
    variant(`id@${s.at} index 0 (free space)`, (c) => c.writeUInt32LE(0, s.at + 8));
    // A vlen element's length precedes its heap ID and agrees with the
    // object's size (1-byte characters or int32 items here); a region
    // reference has no length, and the bytes before it are other data.
    const len = s.at - 4;
    const seq = b.readUInt32LE(len);
    const size = colls.flatMap((c) => c.objects).find((o) => o.idx === s.idx)!.size;
    if (seq === size || seq * 4 === size) {
      variant(`id@${s.at} length + 1`, (c) => c.writeUInt32LE(seq + 1, len));
      if (seq > 0) variant(`id@${s.at} length - 1`, (c) => c.writeUInt32LE(seq - 1, len));
      variant(`id@${s.at} length x 2^20`, (c) => c.writeUInt32LE(Math.min(seq * 2 ** 20 + 1, 0xffffffff), len));
    }
    variant(`id@${s.at} address + 8`, (c) => c.writeBigUInt64LE(c.readBigUInt64LE(s.at) + 8n, s.at));
    variant(`id@${s.at} address 2^40`, (c) => c.writeBigUInt64LE(1n << 40n, s.at));
    variant(`id@${s.at} address undefined`, (c) => c.fill(0xff, s.at, s.at + 8));
  }
  for (const col of colls) {
    col.objects.forEach((o, k) => {
      variant(`object ${o.idx} size 2^40`, (c) => c.writeBigUInt64LE(1n << 40n, o.offset + 8));
      variant(`object ${o.idx} size + 8`, (c) => c.writeBigUInt64LE(BigInt(o.size + 8), o.offset + 8));
      if (o.size > 0) variant(`object ${o.idx} size - 1`, (c) => c.writeBigUInt64LE(BigInt(o.size - 1), o.offset + 8));
      if (k > 0) variant(`object ${o.idx} index duplicated`, (c) => c.writeUInt16LE(col.objects[k - 1]!.idx, o.offset));
    });
    if (col.free !== undefined) {
      const free = col.free;
      variant('free-space block of 0 bytes', (c) => c.writeBigUInt64LE(0n, free + 8));
      variant('free-space block past the end', (c) => c.writeBigUInt64LE(1n << 20n, free + 8));
    }
    variant('collection of 100 bytes', (c) => c.writeBigUInt64LE(100n, col.at + 8));
    variant('collection of 2^40 bytes', (c) => c.writeBigUInt64LE(1n << 40n, col.at + 8));
    variant('collection signature', (c) => c.write('GCOX', col.at));
    variant('collection version 2', (c) => (c[col.at + 4] = 2));
  }
  return out;
}

describe('heap IDs in damaged files are checked before libhdf5 follows them', () => {
  let baseline: Outcome;
  let variants: { name: string; path: string }[] = [];

  beforeAll(async () => {
    requirePeers();
    ensureWalkChild();
    execFileSync(PYTHON, [join(REPO, 'test/hostile/heap_ids.py'), base]);
    bytes = readFileSync(base);
    variants = damage(bytes).map((v, i) => {
      const path = join(dir, `v${i}.h5`);
      writeFileSync(path, v.bytes);
      return { name: v.name, path };
    });
    const [b] = await runJobs([{ path: base, mode: 'read-only' }]);
    baseline = b as Outcome;
  }, 120_000);

  it('the undamaged file reads whole, in every kind of heap-backed value', () => {
    expect(baseline.errors).toEqual({});
    const keys = Object.keys(baseline.values);
    for (const k of [
      '/@note',
      '/@names',
      '/@seqs',
      '/strings',
      '/strings_chunked',
      '/strings_compact',
      '/seqs',
      '/records',
      '/regions',
    ])
      expect(keys).toContain(k);
    const value = (k: string) => JSON.parse(baseline.values[k]!.slice(17)) as unknown;
    expect(value('/@note')).toBe('a vlen string attribute');
    expect(value('/strings_compact')).toEqual(['eight', 'nine']);
    expect(value('/seqs')).toEqual([[0, 1, 2], [0, 1, 2, 3, 4], [0]]);
  });

  it('covers every heap ID and every heap object of the file', () => {
    const colls = collections(bytes);
    expect(colls).toHaveLength(1);
    // 3 + 3 + 1 + 3 + 4 + 2 + 3 + 2 strings and sequences, 2 region selections
    expect(colls[0]!.objects.length).toBeGreaterThanOrEqual(20);
    expect(heapIdSites(bytes, colls).length).toBeGreaterThanOrEqual(colls[0]!.objects.length);
    expect(variants.length).toBeGreaterThan(200);
  });

  for (const mode of ['read-only', 'buffer', 'untrusted'] as const) {
    const label = {
      'read-only': 'File.open (read-only)',
      buffer: 'File.fromBuffer (an in-memory image)',
      untrusted: '{ untrusted: true }',
    }[mode];
    it(`${label}: each value is the original or a typed error; no crash, no hang`, async () => {
      // untrusted opens spawn the walk child per file: every third variant.
      const chosen = mode === 'untrusted' ? variants.filter((_, i) => i % 3 === 0) : variants;
      const results = await runJobs(chosen.map((v) => ({ path: v.path, mode })));
      const problems: string[] = [];
      const tally = new Map<string, number>();
      results.forEach((r, i) => {
        const name = chosen[i]!.name;
        if ('crash' in r) {
          problems.push(`${name}: ${r.crash}`);
          return;
        }
        for (const [k, code] of Object.entries(r.errors)) {
          tally.set(code, (tally.get(code) ?? 0) + 1);
          if (code.startsWith('UNTYPED')) problems.push(`${name}: ${k}: ${code}`);
        }
        for (const [k, v] of Object.entries(r.values))
          if (baseline.values[k] !== undefined && v !== baseline.values[k])
            problems.push(`${name}: ${k} read ${v}, was ${baseline.values[k]}`);
      });
      console.log(`${chosen.length} damaged files (${mode}): errors by code`, Object.fromEntries(tally));
      expect(problems).toEqual([]);
      // The checks themselves answer: most damage is caught as H5_CORRUPT (the
      // walk's H5_UNSAFE_FILE in untrusted mode), not by luck in libhdf5.
      expect((tally.get('H5_CORRUPT') ?? 0) + (tally.get('H5_UNSAFE_FILE:corrupt') ?? 0)).toBeGreaterThan(
        chosen.length / 2,
      );
    }, 900_000);
  }

  it('a damaged length on one string attribute fails that attribute only, as H5_CORRUPT', () => {
    const site = heapIdSites(bytes, collections(bytes)).find((s) => {
      // the 'note' attribute: its heap object holds its text
      const c = collections(bytes)[0]!;
      const o = c.objects.find((x) => x.idx === s.idx)!;
      return bytes.subarray(o.offset + 16, o.offset + 16 + o.size).toString() === 'a vlen string attribute';
    })!;
    expect(site).toBeDefined();
    const copy = Buffer.from(bytes);
    copy.writeUInt32LE(copy.readUInt32LE(site.at - 4) - 3, site.at - 4);
    const p = join(dir, 'note-short.h5');
    writeFileSync(p, copy);
    const f = File.open(p);
    try {
      let err: unknown;
      try {
        f.attrs.get('note');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(H5Error);
      expect(err).toMatchObject({ code: 'H5_CORRUPT' });
      expect((err as Error).message).toMatch(/declares 20 bytes but its heap object holds 23/);
      expect(f.attrs.get('names')).toEqual(['alpha', 'beta', 'gamma']);
    } finally {
      f.close();
    }
  });
});
