/**
 * The option types of every S3 path (File.open('s3://...'), the S3 model store,
 * the block cache worker). Public declarations reach this file, so it must never
 * name an '@aws-sdk/*' type: a project without the optional SDK compiles
 * h5vault's .d.ts files under skipLibCheck: false (issue 26; checked by
 * test/api/types.no-peer-leak.test.ts).
 */

/** Static credentials, as the AWS SDK takes them. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Where and how to reach an S3-compatible object store. */
export interface S3ConnectOptions {
  /**
   * Endpoint of an S3-compatible server (Ceph RGW, MinIO): 'http://host:port'.
   * Default: env AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or S3_ENDPOINT, else AWS S3 itself.
   */
  endpoint?: string;
  /** Default: env AWS_REGION, AWS_DEFAULT_REGION, else 'us-east-1'. */
  region?: string;
  /**
   * Static credentials, or (the model store only) a function that resolves to them.
   * Default: the AWS SDK's standard chain (env AWS_ACCESS_KEY_ID /
   * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE in ~/.aws/credentials
   * and ~/.aws/config, SSO, web identity, container and instance metadata).
   */
  credentials?: S3Credentials | (() => Promise<S3Credentials>);
  /** Path-style addressing (http://host/bucket/key). Default: true with an endpoint, false for AWS. */
  forcePathStyle?: boolean;
  /** Attempts per request, retried with backoff by the SDK. Default: env AWS_MAX_ATTEMPTS, else 3. */
  maxAttempts?: number;
  /** Passed to the SDK's S3Client as is (advanced; overrides the options above; the model store only). */
  clientConfig?: Record<string, unknown>;
}

/** The resolved configuration: plain data, so it can be sent to the block cache worker. */
export interface S3Config {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  maxAttempts: number;
  credentials?: S3Credentials;
}

/** The part of the SDK's S3Client h5vault uses. */
export interface S3ClientLike {
  // biome-ignore lint/suspicious/noExplicitAny: public structural stand-in for the SDK's generic, overloaded S3Client.send (options.ts names no @aws-sdk type); callers read command-specific output fields, and `unknown` would be a breaking change for users' typings
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<any>;
  destroy(): void;
}
