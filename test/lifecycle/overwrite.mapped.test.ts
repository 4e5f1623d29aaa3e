/**
 * File.create(p, { overwrite: true }) never truncates p in place: it writes a
 * new file and renames it over p at close. Whoever mapped the old file (views
 * in this process that outlived close(), another process) keeps the old
 * bytes, and a create that fails leaves the old file byte-identical. Every
 * run that could die of SIGBUS runs in a child process, whose exit is checked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { File, H5Error } from '../../lib/index.js';
import { mountTmpfs, tempDir } from '../helpers.js';
import { DIST_URL, ensureDist, runNode } from './child.js';

const dir = tempDir('h5vault-overwrite-');
const mnt = mountTmpfs('2m'); // a real full disk for the failed-overwrite test
beforeAll(() => ensureDist());
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const temps = (d: string) => readdirSync(d).filter((n) => n.includes('.h5vault-tmp-'));

function writeModel(p: string, fill: number, n = 1 << 16): void {
  const f = File.create(p, { overwrite: true });
  f.createDataset('x', { dtype: 'float32', shape: [n], data: new Float32Array(n).fill(fill) });
  f.close();
}

function readAll(p: string): Float32Array {
  using f = File.open(p);
  return f.dataset('x').readSync() as Float32Array;
}

describe('File.create overwrite of a mapped file', () => {
  it('views in this process that outlived close() keep the old bytes; the path gets the new file', () => {
    const p = join(dir, 'self.h5');
    writeModel(p, 1);
    const r = runNode(
      `const p = process.argv.at(-1);
       const r = H5.File.open(p);
       const v = r.dataset('x').view();
       r.close();
       const w = H5.File.create(p, { overwrite: true });
       w.createDataset('x', { dtype: 'float32', shape: [8], data: new Float32Array(8).fill(2) });
       w.close();
       console.log(JSON.stringify({ len: v.length, allOnes: v.every((x) => x === 1) }));`,
      [p],
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ len: 1 << 16, allOnes: true });
    expect(Array.from(readAll(p))).toEqual(new Array(8).fill(2));
    expect(temps(dir)).toEqual([]);
  });

  it('another process holding a view is unaffected, and the overwrite succeeds', async () => {
    const p = join(dir, 'other.h5');
    writeModel(p, 3);
    // The reader maps the file, says so, waits for a line on stdin, then reads every element of its view.
    const src = `const H5 = await import(${JSON.stringify(DIST_URL)});
      const f = H5.File.open(process.argv.at(-1));
      const v = f.dataset('x').view();
      console.log('mapped');
      process.stdin.once('data', () => {
        let ok = v.length === ${1 << 16};
        for (let i = 0; i < v.length; i++) ok &&= v[i] === 3;
        console.log(ok ? 'old bytes' : 'changed');
        f.close();
        process.exit(0);
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', src, '--', p], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
      child.on('exit', (code, signal) => res({ code, signal })),
    );
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('mapped')) res();
      });
      child.on('exit', () => rej(new Error(`reader exited early: ${err}`)));
    });
    // The reader holds libhdf5's shared lock and a mapping: before, this threw
    // H5_FILE_LOCKED after truncating the file under the reader.
    writeModel(p, 4, 16);
    child.stdin.write('go\n');
    const { code, signal } = await exited;
    expect(err).toBe('');
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(out).toContain('old bytes');
    expect(Array.from(readAll(p))).toEqual(new Array(16).fill(4));
  });

  it('until close() the path holds the old file; close() publishes the new one', () => {
    const p = join(dir, 'pending.h5');
    writeModel(p, 5);
    const before = sha(p);
    const w = File.create(p, { overwrite: true });
    w.createDataset('x', { dtype: 'float32', shape: [4], data: new Float32Array(4).fill(6) });
    w.flush();
    expect(sha(p)).toBe(before);
    expect(temps(dir)).toHaveLength(1);
    w.close();
    expect(Array.from(readAll(p))).toEqual([6, 6, 6, 6]);
    expect(temps(dir)).toEqual([]);
  });
});

describe('a failed overwrite leaves the old file byte-identical', () => {
  it('invalid options: TypeError before anything is touched', () => {
    const p = join(dir, 'invalid.h5');
    writeModel(p, 7);
    const before = sha(p);
    expect(() => File.create(p, { overwrite: 'yes' as unknown as boolean })).toThrow(TypeError);
    expect(sha(p)).toBe(before);
  });

  it('a full disk (2 MiB tmpfs): the write and close fail with H5_IO, the old file is intact, no temp is left, the process exits cleanly', () => {
    const p = join(mnt, 'full.h5');
    writeModel(p, 8, 1 << 18); // 1 MiB of the 2
    const before = sha(p);
    const r = runNode(
      `const p = process.argv.at(-1);
       const out = [];
       const w = H5.File.create(p, { overwrite: true });
       try {
         await w.createDataset('x', { dtype: 'float32', shape: [1 << 19] }).write(new Float32Array(1 << 19).fill(9));
         out.push('write ok');
       } catch (e) { out.push('write ' + e.code); }
       try { w.close(); out.push('close ok'); } catch (e) { out.push('close ' + e.code); }
       console.log(out.join(','));`,
      [p],
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('write H5_IO,close H5_IO');
    expect(sha(p)).toBe(before);
    expect(temps(mnt)).toEqual([]);
    expect(readAll(p)[0]).toBe(8);
  });

  it('a directory at the path: H5_OPEN_FAILED', () => {
    const e = (() => {
      try {
        File.create(dir, { overwrite: true });
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(H5Error);
    expect((e as H5Error).code).toBe('H5_OPEN_FAILED');
  });
});
