/**
 * libhdf5 opens its files without O_CLOEXEC and libuv's spawn closes nothing
 * in the child, so a process started while a file was open inherited the
 * descriptor, and with it libhdf5's flock: a daemon started then (radosgw,
 * restarted by a script while a delta pull wrote its file) kept the lock after
 * h5vault closed the file, and every later open of the published file failed
 * with "unable to lock file, errno = 11". Every file h5vault opens through
 * libhdf5 is now close-on-exec: a real child process lists its descriptors.
 */
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { File, saveModel } from '../../lib/index.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('h5vault-cloexec-');

/** The files a freshly spawned child process has open (its /proc/self/fd links). */
function childFds(): string {
  return spawnSync('sh', ['-c', 'ls -l /proc/self/fd/'], { encoding: 'utf8' }).stdout;
}

describe('files libhdf5 opens are close-on-exec', () => {
  it('a created file (writable) is not inherited by a child process', () => {
    const path = join(dir, 'created.h5');
    const f = File.create(path);
    try {
      expect(childFds()).not.toContain(path);
    } finally {
      f.close();
    }
  });

  it('a file opened read-only and one opened for writing are not inherited', async () => {
    const path = join(dir, 'opened.h5');
    await saveModel(path, { w: { dtype: 'float32', shape: [4], data: new Float32Array(4) } });
    for (const mode of ['r', 'r+'] as const) {
      const f = File.open(path, { mode });
      try {
        expect(childFds()).not.toContain(path);
      } finally {
        f.close();
      }
    }
  });

  it('a long-lived child started while a file was open holds no lock on it after the close', async () => {
    const path = join(dir, 'locked.h5');
    const f = File.create(path);
    const daemon = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      f.close();
      // Opening for writing needs libhdf5's exclusive flock: an inherited descriptor would still hold it.
      const again = File.open(path, { mode: 'r+' });
      again.close();
    } finally {
      daemon.kill('SIGKILL');
    }
  });
});
