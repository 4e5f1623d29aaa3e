/**
 * Keeps the benchmark scripts runnable: `npm run bench:compare` and
 * `npm run bench` at tiny sizes, checking the shape of what they write (no
 * timing assertions: this machine's numbers mean nothing at these sizes).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMarkdown, updateDocs, type CompareReport } from '../../bench/compare.js';
import { requirePeers, tempDir } from '../helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const dir = tempDir('h5vault-benchtest-');

// Asynchronous: a benchmark can run past a minute (under ASan, on a loaded
// machine), and a worker whose event loop is blocked that long misses
// vitest's 60 s RPC deadline ("Timeout calling onTaskUpdate"), which fails
// the whole run although every test passed.
function viteNode(script: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      join(ROOT, 'node_modules/.bin/vite-node'),
      [script, '--', ...args],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 600_000 },
      (e, stdout, stderr) => {
        const code = (e as { code?: unknown } | null)?.code;
        done({ status: e ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
      },
    );
  });
}

describe('bench:compare', () => {
  it('runs every case for h5vault, h5vault serial, h5py and h5wasm, checks data, writes JSON and markdown', async () => {
    requirePeers();
    const out = join(dir, 'compare');
    const docs = join(dir, 'benchmarks.md');
    writeFileSync(docs, '# Benchmarks\n\nhand-written intro\n');
    // --dir names a directory that does not exist yet: compare creates it.
    const work = join(dir, 'not', 'yet');
    const r = await viteNode('bench/bin/compare.ts', [
      '--size',
      '256KiB',
      '--el-size',
      '512KiB',
      '--runs',
      '1',
      '--out',
      out,
      '--docs',
      docs,
      '--dir',
      work,
      '--only',
      'core',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(work).isDirectory()).toBe(true);
    const rep = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')) as CompareReport;
    expect(rep.size).toBe(256 * 1024);
    expect(rep.shape).toEqual([16, 4096]);
    expect(rep.versions).toMatchObject({ 'libhdf5 (h5vault)': '1.10.8', 'libhdf5 (h5py)': '1.10.8' });
    expect(rep.machine.loadavg).toHaveLength(3);
    const ids = rep.cases.map((c) => c.id);
    for (const id of [
      'gzip-1+shuffle read',
      'gzip-4+shuffle read',
      'lz4+shuffle read',
      'lzf+shuffle read',
      'chunked uncompressed read',
      'gzip-1+shuffle write',
      'lz4+shuffle write',
    ]) {
      expect(ids).toContain(id);
    }
    expect(rep.cases.filter((c) => c.group === 'threads')).toHaveLength(6);
    expect(rep.cases.filter((c) => c.group === 'chunks').map((c) => c.chunkBytes)).toEqual([65536, 1 << 20, 8 << 20]);
    for (const c of rep.cases) {
      // h5vault must read the right bytes in every case (checked by SHA-256 inside the harness).
      expect(c.peers.h5vault, `${c.id}: ${JSON.stringify(c.peers.h5vault)}`).toHaveProperty('ms');
      if (c.group !== 'threads') {
        expect(c.peers.h5py, `${c.id}: ${JSON.stringify(c.peers.h5py)}`).toHaveProperty('ms');
        expect(c.peers['h5vault-serial'], c.id).toHaveProperty('ms');
        expect(c.ratios.h5py).toBeGreaterThan(0);
      }
    }
    const gz = rep.cases.find((c) => c.id === 'gzip-1+shuffle read')!;
    expect(gz.peers.h5wasm).toHaveProperty('ms');
    // The reused-buffer columns: every main read also into one array, both sides checked by SHA-256.
    for (const c of rep.cases.filter((x) => x.group === 'main' && x.kind === 'read')) {
      expect(c.peers['h5vault-into'], c.id).toHaveProperty('ms');
      expect(c.peers['h5py-direct'], c.id).toHaveProperty('ms');
    }
    expect(rep.eventLoop).toMatchObject({ bytes: 512 * 1024, codec: 'gzip-1+shuffle', targetP99Ms: 20 });
    expect(rep.eventLoop!.runs).toHaveLength(1);
    const md = readFileSync(docs, 'utf8');
    expect(md).toMatch(/^# Benchmarks\n\nhand-written intro\n/);
    expect(md).toContain('npm run bench:compare -- --size 256KiB');
    expect(md).toMatch(/\| gzip-1\+shuffle read \| \d+ \|/);
    expect(md).toMatch(/Into a reused array[\s\S]*\| lz4\+shuffle read \| \d+ [^|]*\| \d+ [^|]*\| [\d.]+× \|/);
  }, 600_000);

  it('--only codecs: zstd, Blosc and Bitshuffle against h5py through its plugins, data checked, its own docs section', async () => {
    requirePeers();
    const out = join(dir, 'compare-codecs');
    const docs = join(dir, 'benchmarks-codecs.md');
    writeFileSync(docs, '# Benchmarks\n\n<!-- compare:begin (x) -->\ncore tables\n<!-- compare:end -->\n');
    const r = await viteNode('bench/bin/compare.ts', [
      '--size',
      '256KiB',
      '--runs',
      '1',
      '--out',
      out,
      '--docs',
      docs,
      '--only',
      'codecs',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'compare-codecs.json'), 'utf8')) as CompareReport;
    expect(rep.versions['python3-zstandard']).toMatch(/^\d+\./);
    expect(rep.cases.map((c) => c.id)).toEqual([
      'zstd-1 read',
      'zstd-3 read',
      'zstd-9 read',
      'blosc-lz4+shuffle read',
      'blosc-lz4+bitshuffle read',
      'blosc-zstd+shuffle read',
      'blosc-zstd+bitshuffle read',
      'bitshuffle+lz4 read',
      'zstd-3 write',
      'blosc-lz4+shuffle write',
      'blosc-zstd+bitshuffle write',
      'bitshuffle+lz4 write',
    ]);
    for (const c of rep.cases) {
      expect(c.group).toBe('codecs');
      // Every read checked against the source SHA-256 on both sides; h5py reads back h5vault's writes.
      expect(c.peers.h5vault, `${c.id}: ${JSON.stringify(c.peers.h5vault)}`).toHaveProperty('ms');
      expect(c.peers.h5py, `${c.id}: ${JSON.stringify(c.peers.h5py)}`).toHaveProperty('ms');
      expect(c.stored?.h5py).toBeGreaterThan(0);
      if (c.kind === 'write') expect(c.stored?.h5vault).toBeGreaterThan(0);
    }
    expect(rep.cases.find((c) => c.id === 'zstd-3 read')!.target).toBe(3);
    expect(rep.cases.find((c) => c.id === 'blosc-lz4+shuffle read')!.target).toBe(2);
    expect(rep.cases.find((c) => c.id === 'zstd-3 write')!.target).toBe(2);
    const md = readFileSync(docs, 'utf8');
    expect(md).toContain('core tables'); // the core section is left alone
    expect(md).toMatch(
      /<!-- compare-codecs:begin[^\n]*\n[\s\S]*\| zstd-3 read \| \d+ [\s\S]*<!-- compare-codecs:end -->/,
    );
  }, 600_000);

  it('updateDocs replaces only the generated block', () => {
    const p = join(dir, 'doc.md');
    writeFileSync(p, '# T\n\nintro\n');
    updateDocs(p, 'first');
    updateDocs(p, 'second');
    const text = readFileSync(p, 'utf8');
    expect(text.startsWith('# T\n\nintro\n')).toBe(true);
    expect(text).toContain('second');
    expect(text).not.toContain('first');
    expect(text.match(/compare:begin/g)).toHaveLength(1);
  });

  it('renderMarkdown states unmet targets and by how much', () => {
    const t = (ms: number) => ({ ms, mbps: 100 / ms, runs: [ms] });
    const rep = {
      command: 'npm run bench:compare',
      versions: { h5py: '3.7.0' },
      size: 1 << 20,
      shape: [64, 4096],
      runs: 1,
      notes: [],
      eventLoop: null,
      machine: {
        cpu: 'cpu',
        cores: 2,
        memoryBytes: 1 << 30,
        loadavg: [1, 1, 1],
        loadavgEnd: [1, 1, 1],
        node: 'v20',
        hdf5: '1.10.8',
        engineThreads: 2,
        platform: 'linux-x64',
        date: '2026-01-01T00:00:00Z',
      },
      cases: [
        {
          id: 'gzip-4+shuffle read',
          kind: 'read',
          group: 'main',
          codec: 'gzip-4+shuffle',
          chunkBytes: 1 << 20,
          bytes: 1 << 20,
          target: 3,
          peers: { h5vault: t(10), h5py: t(20), h5wasm: t(100) },
          ratios: { h5py: 2, h5wasm: 10 },
        },
      ],
    } as CompareReport;
    const md = renderMarkdown(rep);
    expect(md).toContain('**not met**: 2.00× of 3× (67% of target)');
    expect(md).toContain('10.00× (met)');
  });
});

describe('npm run bench (benny hot paths)', () => {
  it('runs every suite quickly and saves benny JSON results', async () => {
    const out = join(dir, 'benny');
    const r = await viteNode('bench/hot-paths.ts', ['--quick', '--size', '64KiB', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['attrs.json', 'open.json', 'read.json', 'small.json', 'view.json', 'write.json']);
    const read = JSON.parse(readFileSync(join(out, 'read.json'), 'utf8')) as {
      results: { name: string; ops: number }[];
    };
    expect(read.results.map((x) => x.name)).toEqual([
      'none',
      'gzip-1+shuffle',
      'gzip-4+shuffle',
      'lz4+shuffle',
      'lzf+shuffle',
      'szip',
    ]);
    for (const x of read.results) expect(x.ops).toBeGreaterThan(0);
    expect(existsSync(join(out, 'small.json'))).toBe(true);
  }, 600_000);

  it('rejects an unknown suite', async () => {
    const r = await viteNode('bench/hot-paths.ts', ['--only', 'nope']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/unknown suite 'nope'/);
  });
});
