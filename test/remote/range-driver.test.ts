/**
 * h5vault's range driver (native/h5/range_vfd.h), the only way libhdf5 reads a
 * remote file, against real sockets: a server in a child process
 * (fixtures/range-server.mjs, so that libhdf5's synchronous reads can block this
 * thread) that answers well, or as a broken or hostile peer would. Every bad
 * answer is one typed H5Error (H5_S3_NETWORK) saying what was wrong: never a
 * crash, a hang, or an allocation sized by the peer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../lib/addon/binding.js';
import { File, H5Error } from '../../lib/index.js';
import { tempDir } from '../helpers.js';

const file = join(tempDir('h5vault-range-'), 'f.h5');
const want = Float64Array.from({ length: 50_000 }, (_, i) => i * 0.5 - 7);
let size = 0;

beforeAll(() => {
  using f = File.create(file);
  f.createDataset('x', { dtype: 'float64', shape: [want.length], data: want });
  f.attrs.set('note', 'served over loopback');
});

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** The server for `mode`; requests() ends it and returns the connection number of each request it got. */
async function serve(mode: string): Promise<{ url: string; requests: () => Promise<number[]> }> {
  size = statSync(file).size;
  const c = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'range-server.mjs'), mode, file], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child = c;
  let log = '';
  c.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    c.on('exit', (code) => reject(new Error(`range server exited ${code}: ${log}`)));
  });
  const requests = async () => {
    const exited = new Promise((resolve) => c.on('exit', resolve));
    c.stdin!.end();
    await exited;
    return log
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(l.split(' ')[0]));
  };
  return { url: `http://127.0.0.1:${port}/token/1/f.h5`, requests };
}

function readX(h: ReturnType<typeof native.fileOpenRemote>): Float64Array {
  const x = native.objOpen(native.fileRoot(h), 'x').handle;
  return native.valueRead(x, null, null, 'text').data as unknown as Float64Array;
}

function openFails(url: string, timeoutMs = 10_000): H5Error {
  let h: ReturnType<typeof native.fileOpenRemote> | undefined;
  try {
    h = native.fileOpenRemote('s3://b/f.h5', url, { size, timeoutMs });
    readX(h);
  } catch (e) {
    expect(e).toBeInstanceOf(H5Error);
    return e as H5Error;
  } finally {
    if (h) native.fileClose(h);
  }
  throw new Error('the open and read succeeded');
}

describe('range driver', () => {
  it('reads a file served in ranges, keeping its connection alive', async () => {
    const s = await serve('good');
    const h = native.fileOpenRemote('s3://b/f.h5', s.url, { size });
    try {
      expect(Array.from(readX(h))).toEqual(Array.from(want));
      expect(native.attrGet(native.fileRoot(h), 'note').data).toEqual(['served over loopback']);
    } finally {
      native.fileClose(h);
    }
    // Every read of the file went over the one connection.
    const conns = await s.requests();
    expect(conns.length).toBeGreaterThan(2);
    expect(new Set(conns)).toEqual(new Set([1]));
  });

  it('reconnects when the server closed its kept-alive connection between two reads', async () => {
    const s = await serve('good-close');
    const h = native.fileOpenRemote('s3://b/f.h5', s.url, { size });
    try {
      expect(Array.from(readX(h))).toEqual(Array.from(want));
    } finally {
      native.fileClose(h);
    }
    // The server answers once per connection; a request sent on a connection it
    // had closed (it still reads, then drops it) is sent again on a new one.
    const conns = await s.requests();
    expect(new Set(conns).size).toBeGreaterThan(2);
    for (const c of new Set(conns)) expect(conns.filter((x) => x === c).length).toBeLessThanOrEqual(2);
  });

  it('opens on a pool thread too (fileOpenRemoteAsync)', async () => {
    const s = await serve('good');
    const h = await native.fileOpenRemoteAsync('s3://b/f.h5', s.url, { size });
    try {
      expect(readX(h)[3]).toBe(want[3]);
    } finally {
      native.fileClose(h);
    }
  });

  const hostile: [string, RegExp][] = [
    ['truncate', /closed the connection after \d+ of \d+ bytes/],
    ['short-length', /announced \d+ bytes for a read of \d+/],
    ['huge-length', /bad Content-Length/],
    ['big-headers', /response headers exceed 8192 bytes/],
    ['chunked', /Transfer-Encoding 'chunked'/],
    ['bare-lf-chunked', /header line that does not end in CRLF/],
    ['status-500', /answered HTTP 500/],
    ['garbage', /not HTTP/],
  ];
  for (const [mode, why] of hostile)
    it(`a server that answers '${mode}' is an H5_S3_NETWORK error saying so`, async () => {
      const s = await serve(mode);
      const e = openFails(s.url);
      expect(e.code).toBe('H5_S3_NETWORK');
      expect(e.message).toMatch(why);
      expect(e.message).toContain('s3://b/f.h5');
    });

  it('a server that sends more than it announced fails the next read, not this one silently', async () => {
    const s = await serve('long-body');
    const e = openFails(s.url);
    expect(e.code).toBe('H5_S3_NETWORK');
    expect(e.message).toMatch(/not HTTP|more bytes than its Content-Length/);
  });

  for (const mode of ['silent', 'stall-body'])
    it(`a server that stops answering ('${mode}') is a timeout error, not a hang`, async () => {
      const s = await serve(mode);
      const e = openFails(s.url, 300);
      expect(e.code).toBe('H5_S3_NETWORK');
      expect(e.message).toContain('no answer from the block cache within 0.3 s');
    });

  it('nobody listening is a connection error', () => {
    size = statSync(file).size;
    const e = openFails('http://127.0.0.1:1/token/1/f.h5');
    expect(e.code).toBe('H5_S3_NETWORK');
    expect(e.message).toContain('connect to 127.0.0.1:1');
  });

  it('refuses URLs that are not the loopback block cache, and bad options', () => {
    expect(() => native.fileOpenRemote('s3://b/k', 'http://10.0.0.1:80/k', { size: 10 })).toThrow(
      expect.objectContaining({ code: 'H5_OPEN_FAILED' }),
    );
    expect(() => native.fileOpenRemote('s3://b/k', 'http://127.0.0.1:80/a\r\nX: y', { size: 10 })).toThrow(H5Error);
    expect(() => native.fileOpenRemote('s3://b/k', 'http://127.0.0.1:80/k', { size: -1 })).toThrow(RangeError);
    expect(() => native.fileOpenRemote('s3://b/k', 'http://127.0.0.1:80/k', { size: 1, timeoutMs: 0 })).toThrow(
      RangeError,
    );
  });
});
