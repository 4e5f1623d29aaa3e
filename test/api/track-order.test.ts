// Creation-order iteration: keys() follows creation order in groups that
// track it (h5py track_order=True, or { trackOrder: true } here), name order
// otherwise, as h5py lists them.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { File } from '../../lib/index.js';
import { python, requirePeers, tempDir } from '../helpers.js';

requirePeers();
const dir = tempDir('h5vault-order-');
const names = ['zeta', 'alpha', 'Mid', 'beta', '10', '9'];

describe('keys() order', () => {
  it('h5py track_order=True files list in creation order; default files in name order', () => {
    const p = join(dir, 'h5py.h5');
    python(
      `import h5py, sys
names = sys.argv[2].split(',')
f = h5py.File(sys.argv[1], 'w', track_order=True)
for n in names: f.create_group(n)
g = f.create_group('plain', track_order=False)
for n in names: g.create_group(n)
f.close()`,
      [p, names.join(',')],
    );
    const f = File.open(p);
    expect(f.tracksOrder).toBe(true);
    expect(f.keys()).toEqual([...names, 'plain']);
    expect(f.group('plain').tracksOrder).toBe(false);
    // Name order is the byte order of the names, as h5py's.
    expect(f.group('plain').keys()).toEqual(['10', '9', 'Mid', 'alpha', 'beta', 'zeta']);
    f.close();
  });

  it('{ trackOrder: true } files and groups list in creation order, in h5vault and in h5py', () => {
    const p = join(dir, 'ours.h5');
    const f = File.create(p, { trackOrder: true });
    for (const n of names) f.createDataset(n, { dtype: 'int8', shape: [1] });
    const g = f.createGroup('ordered', { trackOrder: true });
    for (const n of names) g.createGroup(n);
    const plain = f.createGroup('plain');
    for (const n of names) plain.createGroup(n);
    expect(f.keys()).toEqual([...names, 'ordered', 'plain']);
    expect(g.keys()).toEqual(names);
    expect(plain.keys()).toEqual(['10', '9', 'Mid', 'alpha', 'beta', 'zeta']);
    f.close();
    // h5py asks a File object for the order flag through the file creation
    // property list, which libhdf5 does not restore on reopen: it lists a
    // reopened file's root in name order (its own track_order files too),
    // and the same root opened as a group (f['/']) in creation order.
    const out = python(
      `import h5py, sys, json
f = h5py.File(sys.argv[1], 'r')
print(json.dumps([list(f['/'].keys()), list(f['ordered'].keys()), list(f['plain'].keys()), list(f.keys())]))`,
      [p],
    );
    const byName = ['10', '9', 'Mid', 'alpha', 'beta', 'ordered', 'plain', 'zeta'];
    expect(JSON.parse(out)).toEqual([
      [...names, 'ordered', 'plain'],
      names,
      ['10', '9', 'Mid', 'alpha', 'beta', 'zeta'],
      byName,
    ]);
  });

  it('in-memory files can track order too, and trackOrder must be a boolean', () => {
    const m = File.createInMemory({ trackOrder: true });
    for (const n of names) m.createGroup(n);
    expect(m.keys()).toEqual(names);
    m.close();
    expect(() => File.create(join(dir, 'x.h5'), { trackOrder: 1 as never })).toThrow(TypeError);
    const f = File.create(join(dir, 'y.h5'));
    expect(() => f.createGroup('g', { trackOrder: 'yes' as never })).toThrow(TypeError);
    f.close();
  });
});
