/** `h5vault store push|pull|ls|gc` (the real CLI, a child process) against a real Ceph radosgw. */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveModel, type Tensor } from '../../lib/index.js';
import { gaussian, tempDir } from '../helpers.js';
import { ensureBuilt, h5vault, json } from '../cli/run.js';
import { makeBucket, sharedCluster } from './cluster.js';

const env = sharedCluster();
const dir = tempDir('h5vault-s3-cli-');
let bucket = '';
beforeAll(async () => {
  ensureBuilt();
  bucket = await makeBucket(env, 'cli');
});

const model = (changed: number): Record<string, Tensor> => {
  const m: Record<string, Tensor> = {};
  for (let i = 0; i < 4; i++)
    m[`l${i}/w`] = { dtype: 'float32', shape: [4096], data: gaussian(4096, i === changed ? 900 + i : i + 1) };
  return m;
};

describe('h5vault store', () => {
  it('push, pull (delta), ls and gc with --json', async () => {
    const cenv = { ...env, AWS_ENDPOINT_URL_S3: env.S3_ENDPOINT };
    const url = `s3://${bucket}/cli`;
    const a = join(dir, 'a.h5');
    const b = join(dir, 'b.h5');
    await saveModel(a, model(-1), { metadata: { step: 1 } });
    const bSaved = await saveModel(b, model(2), { metadata: { step: 2 } });
    const common = ['--cache-dir', join(dir, 'pub'), '--json'];
    const p1 = h5vault(['store', 'push', url, 'm', a, '--layout', 'tensors', ...common], cenv);
    expect(p1.status, p1.stderr).toBe(0);
    expect(json(p1)).toMatchObject({ ok: true, version: 1, stats: { tensorsUploaded: 4 } });
    const p2 = h5vault(['store', 'push', url, 'm', b, '--layout', 'tensors', ...common], cenv);
    expect(json(p2)).toMatchObject({ ok: true, version: 2, stats: { tensorsUploaded: 1, tensorsReused: 3 } });
    const srv = ['--cache-dir', join(dir, 'srv'), '--json'];
    const l1 = h5vault(['store', 'pull', url, 'm', '--version', '1', ...srv], cenv);
    expect(json(l1)).toMatchObject({ ok: true, version: 1, downloaded: true, stats: { tensorsDownloaded: 4 } });
    const l2 = json<{ path: string; stats: { tensorsDownloaded: number; bytesDownloaded: number } }>(
      h5vault(['store', 'pull', url, 'm', ...srv], cenv),
    );
    expect(l2.stats).toMatchObject({ tensorsDownloaded: 1, bytesDownloaded: 4096 * 4 });
    // The rebuilt file is the pushed file, byte for byte.
    expect(readFileSync(l2.path).equals(readFileSync(b))).toBe(true);
    expect(l2.path).toContain(bSaved.digest);
    const ls = json<{ versions: { version: number; layout: string }[] }>(
      h5vault(['store', 'ls', url, 'm', ...srv], cenv),
    );
    expect(ls.versions.map((v) => [v.version, v.layout])).toEqual([
      [1, 'tensors'],
      [2, 'tensors'],
    ]);
    const gc = h5vault(['store', 'gc', url, 'm', ...srv], cenv);
    expect(json(gc)).toMatchObject({ ok: true, objects: [], condemned: [] });
    const bad = h5vault(['store', 'pull', url, 'nope', ...srv], cenv);
    expect(bad.status).not.toBe(0);
    expect(json(bad)).toMatchObject({ ok: false, error: { code: 'H5_NOT_FOUND' } });
  });
});
