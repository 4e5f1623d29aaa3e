/**
 * The AWS SDK v3 (an optional peer, like onnxruntime-node): loaded on first use,
 * the same way on every S3 path (the S3 model store, the lazy-read block cache
 * worker), and configured from one set of options with one answer for each
 * setting (endpoint, region, path style, credentials, retries, timeouts).
 * The option types live in ./options.ts, which names no '@aws-sdk/*' type: the
 * public declarations reach only that file, so a project without the SDK compiles
 * them (issue 26); this module's own declarations do name the SDK and are internal.
 * Credentials are never put in a message or an error.
 */
import { createRequire } from 'node:module';
import { H5Error } from '../errors.js';
import type { S3Config, S3ConnectOptions } from './options.js';
import { booleanOption, checkInteger, checkMatch, checkString, invalid } from '../util/validate.js';

export type { S3ClientLike, S3Config, S3ConnectOptions, S3Credentials } from './options.js';

// Without timeouts a silently dead connection (a partition, not a crash) hangs a
// request forever. Idle time, not total time: a slow but moving range is fine.
const REQUEST_HANDLER = { connectionTimeout: 10_000, socketTimeout: 60_000 };

function env(...names: string[]): string | undefined {
  for (const n of names) if (process.env[n]) return process.env[n];
  return undefined;
}

/** Checks `o` and fills in the defaults from the environment (TypeError/RangeError on misuse). */
export function resolveConfig(o: S3ConnectOptions): S3Config {
  const endpoint = o.endpoint ?? env('AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'S3_ENDPOINT');
  if (endpoint !== undefined) checkMatch(endpoint, 'endpoint', /^https?:\/\/[^/]+/, 'an http:// or https:// URL');
  const region = o.region ?? env('AWS_REGION', 'AWS_DEFAULT_REGION') ?? 'us-east-1';
  checkString(region, 'region');
  booleanOption(o, 'forcePathStyle');
  const envAttempts = env('AWS_MAX_ATTEMPTS');
  const maxAttempts = o.maxAttempts ?? (envAttempts !== undefined ? Number(envAttempts) : 3);
  checkInteger(maxAttempts, 'maxAttempts', 1);
  const c = o.credentials;
  if (
    c !== undefined &&
    typeof c !== 'function' &&
    (typeof c !== 'object' || c === null || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string')
  )
    throw invalid('credentials', '{ accessKeyId, secretAccessKey, sessionToken? } strings or a provider function', c);
  return {
    ...(endpoint ? { endpoint } : {}),
    region,
    forcePathStyle: o.forcePathStyle ?? endpoint !== undefined,
    maxAttempts,
    ...(c && typeof c !== 'function'
      ? {
          credentials: {
            accessKeyId: c.accessKeyId,
            secretAccessKey: c.secretAccessKey,
            ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
          },
        }
      : {}),
  };
}

type S3Module = typeof import('@aws-sdk/client-s3');
type StorageModule = typeof import('@aws-sdk/lib-storage');
let s3Module: S3Module | undefined;
let storageModule: StorageModule | undefined;

function requirePeer<T>(name: string): T {
  const require = createRequire(import.meta.url);
  try {
    return require(name) as T;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new H5Error(
        `${name} is not installed: h5vault's S3 support (s3:// files and the S3 model store) needs it (npm install @aws-sdk/client-s3 @aws-sdk/lib-storage)`,
        {
          code: 'H5_MISSING_PEER',
          peer: name,
        },
      );
    }
    throw e;
  }
}

/** @aws-sdk/client-s3, loaded on first use; H5_MISSING_PEER when absent. */
export function loadS3(): S3Module {
  s3Module ??= requirePeer<S3Module>('@aws-sdk/client-s3');
  return s3Module;
}

/** @aws-sdk/lib-storage (multipart Upload), loaded on first use; H5_MISSING_PEER when absent. */
export function loadStorage(): StorageModule {
  storageModule ??= requirePeer<StorageModule>('@aws-sdk/lib-storage');
  return storageModule;
}

/** An S3Client for the configuration (the SDK is loaded here). `o` adds what plain data cannot carry. */
export function makeClient(
  cfg: S3Config,
  o: Pick<S3ConnectOptions, 'credentials' | 'clientConfig'> = {},
): InstanceType<S3Module['S3Client']> {
  const { S3Client } = loadS3();
  const credentials = typeof o.credentials === 'function' ? o.credentials : cfg.credentials;
  return new S3Client({
    region: cfg.region,
    forcePathStyle: cfg.forcePathStyle,
    maxAttempts: cfg.maxAttempts,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    requestHandler: REQUEST_HANDLER,
    ...o.clientConfig,
  });
}
