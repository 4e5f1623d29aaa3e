/**
 * A full disk (a real 2 MiB tmpfs) that makes a file's flush or close fail
 * must not leave libhdf5 holding state that crashes later: libhdf5 1.10.8
 * keeps a file whose H5Fclose failed, and then the next H5Fclose of any file,
 * or its exit handler, dies with SIGSEGV. Each run sweeps the data size across
 * the point where the disk fills, so writes, flushes and closes each fail in
 * some run, in a child process whose exit status is the verdict.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountTmpfs, tempDir } from '../helpers.js';
import { DIST_URL, ensureDist } from './child.js';

const dir = tempDir('h5vault-full-disk-');
const mnt = mountTmpfs('2m');
beforeAll(() => ensureDist());

let scripts = 0;
// A module file, not \`-e\`: saveModel's hash workers must not inherit --input-type.
function child(code: string) {
  const script = join(dir, `child-${++scripts}.mjs`);
  writeFileSync(script, `const H5 = await import(${JSON.stringify(DIST_URL)});\n${code}`);
  const r = spawnSync(process.execPath, [script, mnt, join(dir, `healthy-${scripts}.h5`)], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { ...r, out: r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').at(-1)!) : null };
}

describe('a file whose flush or close failed on a full disk is torn down', () => {
  it('File API: flush and close report H5_IO; an unrelated healthy file still closes; the process exits cleanly', () => {
    const r = child(`
      const [mnt, healthyPath] = process.argv.slice(-2);
      const { unlinkSync } = await import('node:fs');
      const healthy = H5.File.create(healthyPath);
      healthy.createDataset('x', { dtype: 'float32', shape: [4], data: Float32Array.of(1, 2, 3, 4) });
      const runs = [];
      for (let n = 2_200_000; n >= 1_500_000; n -= 50_000) {
        const p = mnt + '/a' + n + '.h5';
        const f = H5.File.create(p);
        // 200 KB of metadata that only reaches the disk when the file is flushed.
        for (let i = 0; i < 200; i++) f.createGroup('g' + i).attrs.set('a', 'x'.repeat(1000));
        const run = { n };
        try { await f.createDataset('n', { dtype: 'uint8', shape: [n] }).write(new Uint8Array(n).fill(1)); run.write = 'ok'; } catch (e) { run.write = e.code; }
        try { f.flush(); run.flush = 'ok'; } catch (e) { run.flush = e.code; }
        try { f.close(); run.close = 'ok'; } catch (e) { run.close = e.code; }
        unlinkSync(p);
        runs.push(run);
      }
      healthy.close();
      const again = H5.File.open(healthyPath);
      runs.push({ healthy: Array.from(again.dataset('x').readSync()) });
      again.close();
      console.log(JSON.stringify(runs));`);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const runs = r.out as { write?: string; flush?: string; close?: string; healthy?: number[] }[];
    // The sweep crossed all three regions: data did not fit; data fit but metadata did not; everything fit.
    expect(runs).toContainEqual(expect.objectContaining({ write: 'H5_IO', close: 'H5_IO' }));
    expect(runs).toContainEqual(expect.objectContaining({ write: 'ok', flush: 'H5_IO', close: 'H5_IO' }));
    expect(runs).toContainEqual(expect.objectContaining({ write: 'ok', flush: 'ok', close: 'ok' }));
    expect(runs.at(-1)).toEqual({ healthy: [1, 2, 3, 4] });
  });

  it('saveModel: every failure (write, flush, close) leaves the target untouched and no temp; a healthy file closes; the process exits cleanly', () => {
    const r = child(`
      const [mnt, healthyPath] = process.argv.slice(-2);
      const { createHash } = await import('node:crypto');
      const { readFileSync, readdirSync } = await import('node:fs');
      const { setFaultHook } = await import(${JSON.stringify(new URL('util/publish.js', DIST_URL).href)});
      const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
      const healthy = H5.File.create(healthyPath);
      healthy.createDataset('x', { dtype: 'float32', shape: [4], data: Float32Array.of(1, 2, 3, 4) });
      const target = mnt + '/model.h5';
      const small = { 'l0/w': { dtype: 'float32', shape: [64, 64], data: new Float32Array(4096).fill(0.5) } };
      await H5.saveModel(target, small);
      const before = sha(target);
      let step;
      setFaultHook((s) => { step = s; });
      const runs = [];
      for (let n = 2_100_000; n > 0; n -= 1024) {
        step = undefined;
        const noise = new Uint8Array(n).fill(7);
        try {
          await H5.saveModel(target, { ...small, noise: { dtype: 'uint8', shape: [n], data: noise } });
          runs.push({ n, saved: true });
          break;
        } catch (e) {
          runs.push({ n, step, code: e.code, flush: / flush/.test(e.message), intact: sha(target) === before,
                      temps: readdirSync(mnt).filter((x) => x.includes('h5vault-tmp')).length });
        }
      }
      setFaultHook(undefined);
      healthy.close();
      console.log(JSON.stringify(runs));`);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const runs = r.out as {
      saved?: boolean;
      step?: string;
      code?: string;
      flush?: boolean;
      intact?: boolean;
      temps?: number;
    }[];
    expect(runs.at(-1)!.saved).toBe(true);
    const failed = runs.slice(0, -1);
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(f).toMatchObject({ code: 'H5_IO', intact: true, temps: 0 });
    // The sweep reached a failure of the flush after all data was written...
    expect(failed.some((f) => f.flush)).toBe(true);
    // ...and one of the close, after the attributes were set.
    expect(failed.some((f) => f.step === 'close')).toBe(true);
  });
});
