/**
 * Groups, paths, keys/links/has/get and walk(): nested creation, absolute and
 * relative paths, soft/dangling/external links and hard-link cycles (made with
 * h5py, since h5vault itself never writes links other than hard ones).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File, Group, Dataset, H5Error } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

const dir = tempDir();
let n = 0;
const fresh = () => join(dir, `g${n++}.h5`);

function build(p: string): void {
  using f = File.create(p);
  const c = f.createGroup('a/b/c');
  expect(c.path).toBe('/a/b/c');
  expect(c.name).toBe('c');
  f.createGroup('z');
  f.group('a').createDataset('d1', { dtype: 'int8', shape: [1] });
  c.createDataset('d2', { dtype: 'int8', shape: [1] });
  f.createDataset('/a/b/d3', { dtype: 'int8', shape: [1] });
}

describe('groups and paths', () => {
  it('nested createGroup, relative and absolute get, has, keys in name order', () => {
    const p = fresh();
    build(p);
    using f = File.open(p);
    expect(f.keys()).toEqual(['a', 'z']);
    expect(f.group('a').keys()).toEqual(['b', 'd1']);
    expect(f.group('a/b').keys()).toEqual(['c', 'd3']);
    const b = f.group('a/b');
    expect(b.path).toBe('/a/b');
    expect(b.get('c/d2')).toBeInstanceOf(Dataset);
    expect(b.get('c/d2').path).toBe('/a/b/c/d2');
    expect(b.get('/z')).toBeInstanceOf(Group);
    expect(b.get('/z').path).toBe('/z');
    expect(f.has('a/b/c/d2')).toBe(true);
    expect(f.has('a/x/c')).toBe(false);
    expect(f.has('/')).toBe(true);
    expect(f.get('/')).toBeInstanceOf(Group);
    expect(f.dataset('a/d1').name).toBe('d1');
    expect(f.links()).toEqual([
      { name: 'a', kind: 'group', link: 'hard' },
      { name: 'z', kind: 'group', link: 'hard' },
    ]);
    expect(String(f.group('a'))).toBe('<Group /a>');
    expect(String(f.dataset('a/d1'))).toBe('<Dataset /a/d1 int8[1]>');
  });

  it('walk() is depth-first in name order with absolute paths', () => {
    const p = fresh();
    build(p);
    using f = File.open(p);
    const seen = [...f.walk()].map(([path, o]) => `${path}:${o.kind}`);
    expect(seen).toEqual([
      '/a:group',
      '/a/b:group',
      '/a/b/c:group',
      '/a/b/c/d2:dataset',
      '/a/b/d3:dataset',
      '/a/d1:dataset',
      '/z:group',
    ]);
    expect([...f.group('a/b').walk()].map(([path]) => path)).toEqual(['/a/b/c', '/a/b/c/d2', '/a/b/d3']);
    expect([...f.group('z').walk()]).toEqual([]);
  });

  it('existing names: createGroup and createDataset throw H5_EXISTS', () => {
    const p = fresh();
    build(p);
    using f = File.open(p, { mode: 'r+' });
    expect(() => f.createGroup('a/b')).toThrow(expect.objectContaining({ code: 'H5_EXISTS' }));
    expect(() => f.createDataset('a/d1', { dtype: 'int8', shape: [1] })).toThrow(
      expect.objectContaining({ code: 'H5_EXISTS' }),
    );
    expect(() => f.group('a').createGroup('d1')).toThrow(H5Error);
  });

  it('get() of a missing path is H5_NOT_FOUND naming the path and file; dataset()/group() check the kind', () => {
    const p = fresh();
    build(p);
    using f = File.open(p);
    try {
      f.get('a/nope');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(H5Error);
      expect((e as H5Error).code).toBe('H5_NOT_FOUND');
      expect((e as H5Error).message).toContain('/a/nope');
      expect((e as H5Error).message).toContain(p);
    }
    expect(() => f.dataset('a')).toThrow(TypeError);
    expect(() => f.group('a/d1')).toThrow(TypeError);
  });

  it('bad paths are TypeErrors', () => {
    const p = fresh();
    build(p);
    using f = File.open(p);
    for (const bad of ['', 'a//b', 'a/../z', './a', 'a/']) expect(() => f.get(bad), bad).toThrow(TypeError);
    expect(() => f.get(1 as never)).toThrow(TypeError);
    expect(() => f.has('')).toThrow(TypeError);
  });
});

describe('links written by h5py', () => {
  requirePeers();
  const p = fresh();
  python(
    `
import h5py, numpy as np, sys, os
with h5py.File(os.path.join(os.path.dirname(sys.argv[1]), 'other.h5'), 'w') as o:
    o.create_group('x')['y'] = np.arange(2)
with h5py.File(sys.argv[1], 'w') as f:
    g = f.create_group('g')
    g['data'] = np.arange(4, dtype='<i4')
    f['soft'] = h5py.SoftLink('/g/data')
    f['softgroup'] = h5py.SoftLink('/g')
    f['dangling'] = h5py.SoftLink('/nowhere')
    f['ext'] = h5py.ExternalLink('other.h5', '/x')
    g['loop'] = g            # hard link cycle: /g/loop is /g
    f['g2'] = g['data']      # second hard link to the same dataset
`,
    [p],
  );

  it('links() reports soft, dangling and external links', () => {
    using f = File.open(p);
    expect(f.links()).toEqual([
      { name: 'dangling', kind: 'dangling', link: 'soft' },
      { name: 'ext', kind: 'external', link: 'external' },
      { name: 'g', kind: 'group', link: 'hard' },
      { name: 'g2', kind: 'dataset', link: 'hard' },
      { name: 'soft', kind: 'dataset', link: 'soft' },
      { name: 'softgroup', kind: 'group', link: 'soft' },
    ]);
  });

  it('soft links are followed by get(); dangling ones are H5_DANGLING_LINK; external ones H5_UNSUPPORTED', () => {
    using f = File.open(p);
    expect(f.dataset('soft').readSync()).toEqual(Int32Array.of(0, 1, 2, 3));
    expect(f.dataset('softgroup/data').readSync()).toEqual(Int32Array.of(0, 1, 2, 3));
    expect(f.has('dangling')).toBe(false);
    expect(() => f.get('dangling')).toThrow(expect.objectContaining({ code: 'H5_DANGLING_LINK' }));
    // other.h5 exists next to the file with /x/y: it must still not be opened.
    expect(() => f.get('ext')).toThrow(expect.objectContaining({ code: 'H5_UNSUPPORTED' }));
    expect(f.has('ext')).toBe(false);
    expect(f.has('ext/y')).toBe(false);
    expect(() => f.get('ext/y')).toThrow(expect.objectContaining({ code: 'H5_NOT_FOUND' }));
  });

  it('walk() visits every object once: cycles, aliases and soft links do not repeat, dangling/external skipped', () => {
    using f = File.open(p);
    const paths = [...f.walk()].map(([path]) => path);
    // /g/data is first reached as /g/data ('g' < 'g2' < 'soft'); /g/loop is /g itself.
    expect(paths).toEqual(['/g', '/g/data']);
  });
});
