/**
 * `h5vault ls` and `h5vault info` on s3:// URLs against a real radosgw: the same
 * answers as for the local file, and only part of the object fetched.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python, requirePeers, tempDir } from '../helpers.js';
import { ensureBuilt, h5vault, json } from '../cli/run.js';
import { startCluster, type Cluster } from './cluster.js';

let cl: Cluster;
let env: NodeJS.ProcessEnv;
const dir = tempDir('h5vault-remote-cli-');
const model = join(dir, 'model.h5');
const URL = 's3://cli-lazy/m/model.h5';

beforeAll(async () => {
  requirePeers();
  ensureBuilt();
  cl = await startCluster();
  // 24 tensors of 2 MiB around small attributes and groups, as a model file is laid out.
  python(
    `
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f.attrs['h5vault.metadata'] = '{"name": "cli-remote"}'
    for i in range(24):
        g = f.create_group('layer%02d' % i)
        g.attrs['index'] = i
        g['kernel'] = np.full((512, 1024), i, dtype='f4')
        g.create_dataset('bias', data=np.arange(1024, dtype='f4'), chunks=(256,), compression='gzip')
`,
    [model],
  );
  await cl.bucket('cli-lazy');
  await cl.put('cli-lazy', 'm/model.h5', readFileSync(model));
  // The CLI finds the endpoint and keys the standard way: the environment.
  env = {
    AWS_ENDPOINT_URL_S3: cl.env.S3_ENDPOINT,
    AWS_ACCESS_KEY_ID: cl.env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: cl.env.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: cl.env.AWS_REGION,
  };
}, 180_000);

afterAll(async () => cl?.stop(), 120_000);

type Entry = { path: string; viewable?: unknown };

describe('h5vault ls/info s3://', () => {
  it('ls lists what ls of the local file lists, fetching a small part of the object', () => {
    const local = json<{ entries: Entry[] }>(h5vault(['ls', model, '--json']));
    const r = h5vault(['ls', URL, '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    const remote = json<{
      file: string;
      entries: Entry[];
      remote: { size: number; bytesFetched: number; s3Requests: number };
    }>(r);
    expect(remote.file).toBe(URL);
    // Views need a local file: the one difference.
    for (const e of local.entries) if (e.viewable === true) e.viewable = 'remote';
    expect(remote.entries).toEqual(local.entries);
    expect(remote.entries.length).toBe(1 + 24 * 3);
    expect(remote.remote.size).toBe(statSync(model).size);
    expect(remote.remote.bytesFetched).toBeLessThan(remote.remote.size / 4);
    expect(r.stdout + r.stderr).not.toContain(cl.env.AWS_SECRET_ACCESS_KEY);
  });

  it('ls with --endpoint and a dataset path, and the human table', () => {
    const r = h5vault(['ls', URL, '/layer07/kernel', '--endpoint', cl.env.S3_ENDPOINT], {
      ...env,
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kernel\s+float32\s+\[512, 1024\]\s+contiguous/);
    // h5py does not align data (local: 'unaligned'); nothing remote is viewable.
    expect(r.stdout).toMatch(/no: unaligned/);
  });

  it('info reports the same summary and attributes as for the local file', () => {
    const local = json<Record<string, unknown>>(h5vault(['info', model, '--json']));
    const r = h5vault(['info', URL, '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    const remote = json<Record<string, unknown>>(r);
    for (const k of [
      'fileBytes',
      'groups',
      'datasets',
      'logicalBytes',
      'storedBytes',
      'dtypes',
      'filters',
      'attributes',
    ])
      expect(remote[k], k).toEqual(local[k]);
    expect(remote.viewable).toBe(0);
    expect((remote.remote as { bytesFetched: number }).bytesFetched).toBeLessThan(statSync(model).size / 4);
    const human = h5vault(['info', URL], env);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain(`${URL} (`);
    expect(human.stdout).toContain('remote)');
  });

  it('a missing object, a refused key and --untrusted are typed errors with their exit codes', () => {
    const missing = h5vault(['ls', 's3://cli-lazy/m/none.h5', '--json'], env);
    expect(missing.status).toBe(3);
    expect(json<{ error: { code: string } }>(missing).error.code).toBe('H5_S3_NOT_FOUND');
    const denied = h5vault(['info', URL], { ...env, AWS_SECRET_ACCESS_KEY: 'not-the-secret-abcdef' });
    expect(denied.status).toBe(3);
    expect(denied.stderr).toContain('[H5_S3_ACCESS_DENIED]');
    expect(denied.stderr).not.toContain('not-the-secret-abcdef');
    const untrusted = h5vault(['ls', URL, '--untrusted', '--json'], env);
    expect(untrusted.status).toBe(1);
    expect(json<{ error: { code: string } }>(untrusted).error.code).toBe('H5_UNSUPPORTED');
  });

  it('radosgw down: exit 3 with H5_S3_NETWORK, no crash', async () => {
    await cl.rgwStop();
    try {
      const r = h5vault(['ls', URL, '--json'], { ...env, AWS_MAX_ATTEMPTS: '1' });
      expect(r.status).toBe(3);
      expect(json<{ error: { code: string } }>(r).error.code).toBe('H5_S3_NETWORK');
    } finally {
      await cl.rgwStart();
    }
    expect(h5vault(['ls', URL, '--json'], env).status).toBe(0);
  }, 120_000);
});
