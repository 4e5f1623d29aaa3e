// Links: soft, hard and external links, delete, move/rename, H5Ocopy within
// and across files, dangling links, opt-in external-link following; h5py
// reads every result back.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, H5Error, type Dataset } from '../../lib/index.js';
import { fileDigestSync } from '../../lib/safety/untrusted.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir('h5vault-links-');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof H5Error) return e.code;
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  return 'no error';
}

function build(name: string): string {
  const p = join(dir, name);
  const f = File.create(p);
  f.createDataset('data/w', { dtype: 'float32', shape: [3], data: new Float32Array([1, 2, 3]) });
  f.createDataset('data/b', {
    dtype: 'int32',
    shape: [2],
    data: new Int32Array([7, 8]),
    chunks: [1],
    compression: 'gzip',
  });
  f.dataset('data/w').attrs.set('unit', 'm');
  f.createSoftLink('soft', '/data/w');
  f.createHardLink('hard', '/data/w');
  f.createSoftLink('dangling', '/nowhere');
  f.createExternalLink('ext', 'other.h5', '/x');
  f.close();
  return p;
}

describe('link creation', () => {
  it('soft, hard and external links read back in h5vault and in h5py', () => {
    const p = build('create.h5');
    const f = File.open(p);
    expect(f.readLink('soft')).toEqual({ type: 'soft', target: '/data/w' });
    expect(f.readLink('hard')).toEqual({ type: 'hard' });
    expect(f.readLink('ext')).toEqual({ type: 'external', file: 'other.h5', target: '/x' });
    expect(Array.from(f.dataset('soft').readSync() as Float32Array)).toEqual([1, 2, 3]);
    expect(Array.from(f.dataset('hard').readSync() as Float32Array)).toEqual([1, 2, 3]);
    expect(f.links().map((l) => [l.name, l.link, l.kind])).toEqual([
      ['dangling', 'soft', 'dangling'],
      ['data', 'hard', 'group'],
      ['ext', 'external', 'external'],
      ['hard', 'hard', 'dataset'],
      ['soft', 'soft', 'dataset'],
    ]);
    f.close();
    const out = python(
      `import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
l = lambda n: f.get(n, getlink=True)
print(json.dumps({
  'soft': l('soft').path, 'ext': [l('ext').filename, l('ext').path], 'dangling': l('dangling').path,
  'hardSame': f['hard'].id == f['data/w'].id, 'hard': f['hard'][()].tolist(), 'unit': f['hard'].attrs['unit'],
}))`,
      [p],
    );
    expect(JSON.parse(out)).toEqual({
      soft: '/data/w',
      ext: ['other.h5', '/x'],
      dangling: '/nowhere',
      hardSame: true,
      hard: [1, 2, 3],
      unit: 'm',
    });
  });

  it('refuses a taken name, a hard link to nothing, and writes to a read-only file', () => {
    const p = build('refuse.h5');
    const f = File.open(p, { mode: 'r+' });
    expect(code(() => f.createSoftLink('soft', '/x'))).toBe('H5_EXISTS');
    expect(code(() => f.createHardLink('h2', '/missing'))).toBe('H5_NOT_FOUND');
    expect(code(() => f.createSoftLink('data/w/x', '/data'))).toMatch(/TypeError: '\/data\/w' is a dataset/);
    expect(code(() => f.createSoftLink('', '/x'))).toMatch(/TypeError/);
    expect(code(() => f.createExternalLink('e2', '', '/x'))).toMatch(/TypeError/);
    f.close();
    const r = File.open(p);
    expect(code(() => r.createSoftLink('s2', '/data'))).toBe('H5_READ_ONLY');
    expect(code(() => r.delete('soft'))).toBe('H5_READ_ONLY');
    expect(code(() => r.move('soft', 's3'))).toBe('H5_READ_ONLY');
    r.close();
  });
});

describe('dangling and external links', () => {
  it('a dangling soft link is H5_DANGLING_LINK naming its target; a missing name is H5_NOT_FOUND', () => {
    const f = File.open(build('dangling.h5'));
    let err: unknown;
    try {
      f.get('dangling');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(H5Error);
    expect((err as H5Error).code).toBe('H5_DANGLING_LINK');
    expect((err as H5Error).message).toContain("'/nowhere'");
    expect(code(() => f.get('nothing'))).toBe('H5_NOT_FOUND');
    expect(f.has('dangling')).toBe(false);
    f.close();
  });

  it('external links are followed only when asked, read-only, and never viewed through the linking file', () => {
    const p = build('follow.h5');
    const other = File.create(join(dir, 'other.h5'));
    other.createDataset('x', { dtype: 'float64', shape: [4], data: new Float64Array([4, 3, 2, 1]) });
    other.close();
    const plain = File.open(p);
    expect(code(() => plain.get('ext'))).toBe('H5_UNSUPPORTED');
    expect(plain.has('ext')).toBe(false);
    plain.close();
    const cwd = process.cwd();
    // libhdf5 finds 'other.h5' relative to the linking file's directory.
    process.chdir('/');
    try {
      const f = File.open(p);
      const x = f.get('ext', { followExternal: true });
      expect(x.kind).toBe('dataset');
      const d = x as Dataset;
      expect(Array.from(d.readSync() as Float64Array)).toEqual([4, 3, 2, 1]);
      expect(d.viewable).toBe('external-link');
      expect(code(() => d.view())).toBe('H5_NOT_VIEWABLE');
      expect(Array.from(d.view({ copy: true }) as Float64Array)).toEqual([4, 3, 2, 1]);
      f.close();
      // Objects reached through the link belong to the linking File's lifetime.
      expect(code(() => d.readSync())).toBe('H5_CLOSED');
    } finally {
      process.chdir(cwd);
    }
  });

  it('a soft link through an external link opens nothing unless asked; followed, its bytes come from the linked file', () => {
    const q = join(dir, 'through.h5');
    const b = File.create(join(dir, 'through-target.h5'));
    b.createDataset('x', { dtype: 'int32', shape: [4], data: Int32Array.of(9, 8, 7, 6) });
    b.close();
    const f = File.create(q);
    // Contiguous data at the same offset the linked dataset has in its file:
    // a view through the wrong file would read these 1s.
    f.createDataset('pad', { dtype: 'int32', shape: [4000], data: new Int32Array(4000).fill(1) });
    f.createExternalLink('ext', join(dir, 'through-target.h5'), '/');
    f.createSoftLink('s', '/ext/x');
    f.close();
    const r = File.open(q);
    expect(r.has('s')).toBe(false);
    expect(code(() => r.get('s'))).toBe('H5_DANGLING_LINK');
    expect(r.links().find((l) => l.name === 's')).toEqual({ name: 's', kind: 'dangling', link: 'soft' });
    const d = r.get('s', { followExternal: true }) as Dataset;
    expect(Array.from(d.readSync() as Int32Array)).toEqual([9, 8, 7, 6]);
    expect(d.viewable).toBe('external-link');
    expect(Array.from(d.view({ copy: true }) as Int32Array)).toEqual([9, 8, 7, 6]);
    r.close();
  });

  it('an external link whose file is missing is H5_DANGLING_LINK', () => {
    const p = join(dir, 'ext-missing.h5');
    const f = File.create(p);
    f.createExternalLink('gone', 'no-such-file.h5', '/x');
    f.close();
    const r = File.open(p);
    expect(code(() => r.get('gone', { followExternal: true }))).toBe('H5_DANGLING_LINK');
    r.close();
  });

  it('a digest-checked file never follows external links, even when asked', () => {
    const p = build('digest.h5');
    const f = File.open(p, { expectDigest: fileDigestSync(p) });
    let err: unknown;
    try {
      f.get('ext', { followExternal: true });
    } catch (e) {
      err = e;
    }
    expect((err as H5Error).code).toBe('H5_UNSUPPORTED');
    expect((err as H5Error).message).toMatch(
      /not followed in a file opened with \{ untrusted \} or \{ expectDigest \}/,
    );
    f.close();
  });

  it('an untrusted open refuses a file with external links outright (the walk)', async () => {
    const p = build('untrusted.h5');
    await expect(File.openAsync(p, { untrusted: true })).rejects.toMatchObject({
      code: 'H5_UNSAFE_FILE',
      reason: 'external-link',
    });
  });
});

describe('delete, move, copy', () => {
  it('delete removes the link; the object lives on under its other hard link; h5py agrees', () => {
    const p = build('delete.h5');
    const f = File.open(p, { mode: 'r+' });
    f.delete('data/w');
    expect(f.has('data/w')).toBe(false);
    expect(Array.from(f.dataset('hard').readSync() as Float32Array)).toEqual([1, 2, 3]);
    expect(code(() => f.get('soft'))).toBe('H5_DANGLING_LINK');
    expect(code(() => f.delete('data/w'))).toBe('H5_NOT_FOUND');
    f.delete('dangling');
    f.delete('ext');
    f.close();
    const out = python(
      `import h5py, sys
f = h5py.File(sys.argv[1], 'r')
print(sorted(f.keys()), sorted(f['data'].keys()), f['hard'][()].tolist())`,
      [p],
    );
    expect(out.trim()).toBe("['data', 'hard', 'soft'] ['b'] [1.0, 2.0, 3.0]");
  });

  it('move renames within and across groups, and refuses a taken name or a move into itself', () => {
    const p = build('move.h5');
    const f = File.open(p, { mode: 'r+' });
    f.move('data/w', 'weights');
    f.move('data', 'nested/deeper/data');
    expect(code(() => f.move('hard', 'weights'))).toBe('H5_EXISTS');
    expect(code(() => f.move('nested', 'nested/inner'))).toBe('H5_INVALID_ARGUMENT');
    expect(code(() => f.move('missing', 'x'))).toBe('H5_NOT_FOUND');
    f.close();
    const out = python(
      `import h5py, sys
f = h5py.File(sys.argv[1], 'r')
print(f['weights'][()].tolist(), f['nested/deeper/data/b'][()].tolist(), 'data' in f)`,
      [p],
    );
    expect(out.trim()).toBe('[1.0, 2.0, 3.0] [7, 8] False');
  });

  it('copy duplicates a group tree within a file and into another file (attributes and filters kept)', () => {
    const p = build('copy-src.h5');
    const f = File.open(p, { mode: 'r+' });
    f.copy('data', 'data2');
    const q = join(dir, 'copy-dst.h5');
    const g = File.create(q);
    f.copy('data', g);
    f.copy('data/w', g.createGroup('renamed'), 'weights');
    expect(code(() => f.copy('data', 'data2'))).toBe('H5_EXISTS');
    expect(code(() => f.copy('nope', 'x'))).toBe('H5_NOT_FOUND');
    f.close();
    g.close();
    const out = python(
      `import h5py, sys, json
a = h5py.File(sys.argv[1], 'r'); b = h5py.File(sys.argv[2], 'r')
print(json.dumps([
  a['data2/w'][()].tolist(), a['data2/w'].id != a['data/w'].id, a['data2/w'].attrs['unit'],
  b['data/b'][()].tolist(), b['data/b'].compression, b['renamed/weights'][()].tolist(), b['renamed/weights'].attrs['unit'],
]))`,
      [p, q],
    );
    expect(JSON.parse(out)).toEqual([[1, 2, 3], true, 'm', [7, 8], 'gzip', [1, 2, 3], 'm']);
  });

  it('h5py-made links read the same in h5vault', () => {
    const p = join(dir, 'h5py-links.h5');
    python(
      `import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], 'w')
f['g/d'] = np.arange(5, dtype='i2')
f['s'] = h5py.SoftLink('/g/d')
f['h'] = f['g/d']
f['e'] = h5py.ExternalLink('x.h5', '/y')
f['bad'] = h5py.SoftLink('/none')
f.close()`,
      [p],
    );
    const f = File.open(p);
    expect(f.readLink('s')).toEqual({ type: 'soft', target: '/g/d' });
    expect(f.readLink('e')).toEqual({ type: 'external', file: 'x.h5', target: '/y' });
    expect(Array.from(f.dataset('h').readSync() as Int16Array)).toEqual([0, 1, 2, 3, 4]);
    expect(code(() => f.get('bad'))).toBe('H5_DANGLING_LINK');
    f.close();
  });
});
