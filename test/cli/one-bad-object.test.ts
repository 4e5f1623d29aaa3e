/**
 * One damaged object, or one value of a type h5vault cannot represent yet,
 * never hides the rest of a file: Group.walk(), ls, info, verify, repack and
 * loadModel list or use everything else and name the object with its typed
 * error. Files are written by h5py in the test; the damaged one has one
 * dataset's datatype message given an unknown class (libhdf5 lists the object
 * but cannot open it: H5_CORRUPT).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { File, H5Error, loadModel, type WalkFailure } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';
import { ensureBuilt, h5vault, json } from './run.js';

requirePeers();
const dir = tempDir('h5vault-one-bad-');
const damaged = join(dir, 'damaged.h5');
const mixed = join(dir, 'mixed.h5');

beforeAll(() => {
  ensureBuilt();
  python(
    `import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w', libver='earliest') as f:
    f['a'] = np.arange(3, dtype='f4')
    f['b'] = np.zeros(2, dtype=[('ZZZMARKER', '<i4')])
    f['c'] = np.arange(4, dtype='i4')
    f.create_group('g')['d'] = np.ones(2)
# A 128-bit integer: a valid HDF5 type that h5vault (like numpy) cannot represent.
i128 = h5py.h5t.STD_I64LE.copy()
i128.set_size(16)
with h5py.File(sys.argv[2], 'w') as f:
    f['a'] = np.arange(3, dtype='f4')
    g = f.create_group('g')
    h5py.h5d.create(g.id, b'rec', i128, h5py.h5s.create_simple((2,)))
    f['g/x'] = np.linspace(0, 1, 5)
    f['names'] = np.array([b'alpha', b'beta'])
    f.attrs['title'] = 'mixed'
    h5py.h5a.create(f.id, b'pair', i128, h5py.h5s.create(h5py.h5s.SCALAR)).close()
    f['a'].attrs['scale'] = 2.0
    h5py.h5a.create(f['a'].id, b'rec', i128, h5py.h5s.create_simple((1,))).close()
`,
    [damaged, mixed],
  );
  // Give '/b' a datatype class libhdf5 does not know (v1 object headers carry no checksum).
  const b = readFileSync(damaged);
  const at = b.indexOf('ZZZMARKER') - 8;
  expect(b[at]! & 0x0f).toBe(6); // compound, version 1
  b[at] = (b[at]! & 0xf0) | 0x0f;
  writeFileSync(damaged, b);
});

describe('Group.walk() around an object that cannot be opened', () => {
  it('with onError: yields every other object and reports the bad one with its typed error', () => {
    const f = File.open(damaged);
    try {
      const failures: [string, H5Error][] = [];
      const seen = [...f.walk({ onError: (p, e) => failures.push([p, e]) })].map(([p, o]) => `${p}:${o.kind}`);
      expect(seen).toEqual(['/a:dataset', '/c:dataset', '/g:group', '/g/d:dataset']);
      expect(failures).toHaveLength(1);
      expect(failures[0]![0]).toBe('/b');
      expect(failures[0]![1]).toBeInstanceOf(H5Error);
      expect(failures[0]![1].code).toBe('H5_CORRUPT');
    } finally {
      f.close();
    }
  });

  it('without onError: yields every other object first, then throws one H5Error listing the failures', () => {
    const f = File.open(damaged);
    const seen: string[] = [];
    try {
      expect(() => {
        for (const [p] of f.walk()) seen.push(p);
      }).toThrow(H5Error);
      expect(seen).toEqual(['/a', '/c', '/g', '/g/d']);
      let caught: unknown;
      try {
        for (const _ of f.walk());
      } catch (e) {
        caught = e;
      }
      const err = caught as H5Error & { errors: WalkFailure[] };
      expect(err.code).toBe('H5_CORRUPT');
      expect(err.errors.map((x) => [x.path, x.code])).toEqual([['/b', 'H5_CORRUPT']]);
      expect(err.message).toContain("'/b'");
    } finally {
      f.close();
    }
  });

  it('onError must be a function', () => {
    const f = File.open(damaged);
    try {
      expect(() => [...f.walk({ onError: 1 as unknown as () => void })]).toThrow(TypeError);
    } finally {
      f.close();
    }
  });
});

describe('h5vault ls / info on a damaged file: everything else listed, the bad object named, exit 1', () => {
  it('ls --json lists the other datasets and an error entry for /b', () => {
    const r = h5vault(['ls', damaged, '--json']);
    expect(r.status).toBe(1);
    const doc = json<{ entries: { kind: string; path: string; error?: { code: string } }[] }>(r);
    expect(doc.entries.filter((e) => e.kind === 'dataset').map((e) => e.path)).toEqual(['/a', '/c', '/g/d']);
    expect(doc.entries.filter((e) => e.kind === 'error')).toEqual([
      {
        kind: 'error',
        path: '/b',
        error: { code: 'H5_CORRUPT', message: expect.stringContaining('unknown datatype class') },
      },
    ]);
  });

  it('ls prints the tree with the error in place', () => {
    const r = h5vault(['ls', damaged]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/b\s+cannot read: \[H5_CORRUPT\]/);
    expect(r.stdout).toMatch(/\bd\s+float64/);
  });

  it('info --json summarises the readable datasets and lists the failure', () => {
    const r = h5vault(['info', damaged, '--json']);
    expect(r.status).toBe(1);
    const doc = json<{ datasets: number; errors: { path: string; code: string }[] }>(r);
    expect(doc.datasets).toBe(3);
    expect(doc.errors.map((e) => [e.path, e.code])).toEqual([['/b', 'H5_CORRUPT']]);
  });
});

describe('values of a type h5vault cannot represent (128-bit integers here) are listed, not failures', () => {
  it('info: a 128-bit integer root attribute is shown as unreadable with its code; exit 0', () => {
    const r = h5vault(['info', mixed, '--json']);
    expect(r.status).toBe(0);
    const doc = json<{ attributes: Record<string, unknown>; errors: { path: string; code: string }[] }>(r);
    expect(doc.attributes.title).toBe('mixed');
    expect(doc.attributes.pair).toEqual({ error: { code: 'H5_UNSUPPORTED_TYPE', message: expect.any(String) } });
    expect(doc.errors.map((e) => [e.path, e.code])).toEqual([['/@pair', 'H5_UNSUPPORTED_TYPE']]);
    const human = h5vault(['info', mixed]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/pair\s+\(cannot read: H5_UNSUPPORTED_TYPE\)/);
  });

  it("info on a real NWB file (root '.specloc' object reference): exit 0, every other attribute shown", () => {
    const nwb = new URL('../fixtures/conformance/pynwb/2.2.0_subject_no_age__reference.nwb', import.meta.url).pathname;
    const r = h5vault(['info', nwb, '--json']);
    expect(r.status).toBe(0);
    const doc = json<{ attributes: Record<string, unknown>; errors: { path: string; code: string }[] }>(r);
    expect(doc.attributes.nwb_version).toBe('2.5.0');
    // Read as a value once references are supported; until then listed with its code.
    for (const e of doc.errors) expect([e.path, e.code]).toEqual(['/@.specloc', 'H5_UNSUPPORTED_TYPE']);
    expect(Object.keys(doc.attributes)).toContain('.specloc');
  });

  it('verify: the 128-bit integer dataset is skipped with a warning; every other dataset is read; exit 0', () => {
    const r = h5vault(['verify', mixed, '--json']);
    expect(r.status).toBe(0);
    const doc = json<{
      ok: boolean;
      failed: number;
      skipped: number;
      entries: { path: string; ok: boolean; skipped?: boolean; code?: string }[];
    }>(r);
    expect(doc).toMatchObject({ ok: true, failed: 0, skipped: 1 });
    expect(doc.entries.find((e) => e.path === '/g/rec')).toMatchObject({
      ok: true,
      skipped: true,
      code: 'H5_UNSUPPORTED_TYPE',
    });
    expect(
      doc.entries
        .filter((e) => !e.skipped)
        .map((e) => e.path)
        .sort(),
    ).toEqual(['/a', '/g/x', '/names']);
    expect(r.stderr).toContain("warning: skipped '/g/rec': [H5_UNSUPPORTED_TYPE]");
  });

  it('verify: a dataset that cannot be opened is a failure, named; exit 1', () => {
    const r = h5vault(['verify', damaged, '--json']);
    expect(r.status).toBe(1);
    const doc = json<{ ok: boolean; entries: { path: string; ok: boolean; code?: string }[] }>(r);
    expect(doc.ok).toBe(false);
    expect(doc.entries.filter((e) => !e.ok).map((e) => [e.path, e.code])).toEqual([['/b', 'H5_CORRUPT']]);
    expect(doc.entries.filter((e) => e.ok).map((e) => e.path)).toEqual(['/a', '/c', '/g/d']);
  });

  it('repack: copies everything else, leaves out the 128-bit integer dataset and attributes with a warning each and lists them', () => {
    const out = join(dir, 'mixed.repacked.h5');
    const r = h5vault(['repack', mixed, out, '--compression', 'gzip', '--json']);
    expect(r.status).toBe(0);
    const doc = json<{ datasets: number; skipped: { path: string; code: string }[] }>(r);
    expect(doc.datasets).toBe(3);
    expect(doc.skipped.map((s) => [s.path, s.code])).toEqual([
      ['/@pair', 'H5_UNSUPPORTED_TYPE'],
      ['/a@rec', 'H5_UNSUPPORTED_TYPE'],
      ['/g/rec', 'H5_UNSUPPORTED_TYPE'],
    ]);
    expect(r.stderr.match(/^warning: skipped/gm)).toHaveLength(3);
    // h5py reads the copy: same values and the supported attributes.
    const check = python(
      `import h5py, sys, json
f = h5py.File(sys.argv[1], 'r')
print(json.dumps({'a': f['a'][()].tolist(), 'x': f['g/x'][()].tolist(), 'names': [s.decode() if isinstance(s, bytes) else s for s in f['names'][()]],
  'title': f.attrs['title'], 'scale': float(f['a'].attrs['scale']), 'rec' : 'rec' in f['g'], 'keys': sorted(f.attrs.keys())}))`,
      [out],
    );
    expect(JSON.parse(check)).toEqual({
      a: [0, 1, 2],
      x: [0, 0.25, 0.5, 0.75, 1],
      names: ['alpha', 'beta'],
      title: 'mixed',
      scale: 2,
      rec: false,
      keys: ['title'],
    });
  });

  it('repack: an object that cannot be read stops the repack, naming it, and writes nothing', () => {
    const out = join(dir, 'damaged.repacked.h5');
    const r = h5vault(['repack', damaged, out, '--compression', 'none']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("'/b' cannot be read: [H5_CORRUPT]");
    expect(existsSync(out)).toBe(false);
  });
});

describe('loadModel({ verify: false }) never drops a dataset unseen', () => {
  it('refuses a file holding a dataset it cannot load as a tensor, naming it (H5_UNSUPPORTED_TYPE)', async () => {
    const err = await loadModel(mixed, { verify: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(H5Error);
    expect((err as H5Error).code).toBe('H5_UNSUPPORTED_TYPE');
    expect((err as H5Error & { datasets: string[] }).datasets).toEqual(['/g/rec']);
    expect((err as H5Error).message).toContain("'/g/rec'");
  });

  it('refuses a file with an object it cannot open (the walk error), rather than loading the rest silently', async () => {
    const err = await loadModel(damaged, { verify: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(H5Error);
    expect((err as H5Error).code).toBe('H5_CORRUPT');
    expect((err as H5Error).message).toContain("'/b'");
  });

  it('still loads numeric datasets next to string datasets (text is documented as not a tensor)', async () => {
    const p = join(dir, 'numeric-and-text.h5');
    python(
      `import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'w') as f:
    f['w'] = np.arange(6, dtype='f4').reshape(2, 3)
    f['vocab'] = np.array([b'a', b'b'])`,
      [p],
    );
    const m = await loadModel(p, { verify: false });
    try {
      expect([...m.tensors.keys()]).toEqual(['w']);
      expect(Array.from(m.tensors.get('w')!.data as Float32Array)).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      m.close();
    }
  });
});
