/**
 * s3:// URLs, parsed once for every S3 path of h5vault: File.open('s3://bucket/key')
 * (lazy remote reads), ModelStore.open('s3://bucket/prefix') and the CLI. A URL that
 * is not one is a TypeError (the caller's misuse), with the same message everywhere.
 */

/** Whether `path` names an object store location (s3://...) rather than a local path. */
export function isS3Url(path: unknown): path is `s3://${string}` {
  return typeof path === 'string' && /^s3:\/\//i.test(path);
}

export interface S3Url {
  bucket: string;
  /**
   * The object key (an object URL), or the key prefix without leading or
   * trailing '/' (a prefix URL: '' for the bucket root).
   */
  key: string;
}

// S3's bucket naming rule (3-63 characters of a-z, 0-9, '.', '-'; letter or digit at both ends).
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses s3://bucket/key. `kind` 'object' (default) needs a key that names an
 * object (not empty, not ending in '/'); 'prefix' takes any prefix, the
 * bucket root included. '.' and '..' segments are refused in both.
 * @example parseS3Url('s3://models/prod/resnet.h5') // { bucket: 'models', key: 'prod/resnet.h5' }
 */
export function parseS3Url(url: string, kind: 'object' | 'prefix' = 'object'): S3Url {
  const form = kind === 'object' ? 's3://bucket/key' : 's3://bucket/prefix';
  if (typeof url !== 'string') throw new TypeError(`an S3 URL must be a string (${form})`);
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(url);
  if (!m) throw new TypeError(`'${url}' is not an s3:// URL (${form})`);
  const bucket = m[1]!;
  if (!BUCKET_RE.test(bucket))
    throw new TypeError(`'${url}': '${bucket}' is not a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')`);
  const rest = m[2] ?? '';
  if (kind === 'object' && (rest === '' || rest.endsWith('/')))
    throw new TypeError(`'${url}' does not name an object (${form})`);
  const key = kind === 'object' ? rest : rest.replace(/^\/+|\/+$/g, '');
  if (key.split('/').some((s) => s === '.' || s === '..'))
    throw new TypeError(`'${url}': '.' and '..' are not allowed in an S3 key`);
  return { bucket, key };
}
