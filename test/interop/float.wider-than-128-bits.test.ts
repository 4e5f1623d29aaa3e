/**
 * A float type wider than any float format (the HDF Group's tmisc38a.h5
 * /Fletcher_float_data_be: 65,525 bytes per element, float32 fields, chunks
 * shorter than that implies) is refused with H5_UNSUPPORTED_TYPE before
 * libhdf5 converts it; h5py refuses it too. Before, read() died with SIGSEGV
 * inside H5Dread (H5D__scatgath_read -> memcpy): the read runs in a child
 * process here so that a crash fails this test instead of the run.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { python, requirePeers } from '../helpers.js';
import { CORPUS } from '../conformance/harness.js';

requirePeers();

const FILE = join(CORPUS, 'hdf5/test/testfiles/tmisc38a.h5');
const DIST = new URL('../../dist/index.js', import.meta.url).href;

describe('a float wider than 128 bits', () => {
  it('h5py refuses it too', () => {
    const out = python(
      `import h5py, sys
try:
    h5py.File(sys.argv[1], 'r')['/Fletcher_float_data_be'][()]
    print('read')
except Exception as e:
    print('refused')`,
      [FILE],
    );
    expect(out.trim()).toBe('refused');
  });

  it.each(['read', 'readSync', 'readRecords', 'type', 'attrs'])('%s is refused typed, and the process lives', (how) => {
    const script = `
      import { File } from ${JSON.stringify(DIST)};
      const f = File.open(${JSON.stringify(FILE)});
      const d = f.dataset('/Fletcher_float_data_be');
      try {
        const how = ${JSON.stringify(how)};
        if (how === 'read') await d.read();
        else if (how === 'readSync') d.readSync();
        else if (how === 'readRecords') await d.readRecords();
        else if (how === 'type') d.type;
        else for (const k of d.attrs.keys()) d.attrs.get(k);
        console.log(JSON.stringify({ ok: how === 'attrs', shape: d.shape }));
      } catch (e) {
        console.log(JSON.stringify({ code: e.code, message: e.message }));
      }
      f.close();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    const res = JSON.parse(r.stdout.trim());
    if (how === 'attrs') expect(res).toEqual({ ok: true, shape: [7, 6] });
    else {
      expect(res.code).toBe('H5_UNSUPPORTED_TYPE');
      expect(res.message).toContain('float of 65525 bytes');
    }
  });
});
