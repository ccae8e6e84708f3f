import path from 'node:path';

/**
 * The hub's whole configuration, read from the environment in exactly one place
 * (`loadConfig`). Everything else receives a `Config` (or a slice of it).
 */
export interface Config {
  port: number;
  host: string;
  /** Root of the embedded profile's state: `<dataDir>/db` (PGlite) and `<dataDir>/blobs`. */
  dataDir: string;
  /** Base URL the hub is reached at; used in links, the token issuer and the OpenAPI servers list. */
  publicUrl: string;
  /** Fastify's trustProxy: which reverse proxies' X-Forwarded-* headers give the client address (rate limits, logs). */
  trustProxy: boolean | number | string[];
  logLevel: LogLevel;
  database: { driver: 'pglite'; dataDir: string } | { driver: 'postgresql'; url: string; poolMax: number };
  storage:
    | { driver: 'filesystem'; root: string }
    | {
        driver: 's3';
        endPoint: string;
        port: number;
        useSSL: boolean;
        bucket: string;
        accessKey: string;
        secretKey: string;
        region: string;
        partSize: number;
      };
  redisUrl: string | undefined;
  jobs: { driver: 'in-process' } | { driver: 'bullmq'; redisUrl: string; prefix: string };
  auth: {
    /** `iss` of the hub's tokens and receipts: the public URL. */
    issuer: string;
    /** `aud` of access tokens. */
    audience: string;
    accessTokenTtlSeconds: number;
    refreshTokenTtlSeconds: number;
    /**
     * Secret that encrypts signing keys at rest. Unset in the embedded profile:
     * the hub then keeps a generated one in `<dataDir>/hub-secret`.
     */
    hubSecret: string | undefined;
    /** Operator created on first start when the database has none (both or neither). */
    operator: { username: string; password: string } | undefined;
    /** How long a new signing key is published in the JWKS before it signs (`keys rotate`). */
    keyPublishDelaySeconds: number;
    /**
     * Longest a node keeps a caller's account or client facts between database checks (PostgreSQL only; 0 = check on
     * every request). Changes reach every node at once through PostgreSQL notifications; this bounds the rest.
     */
    principalCacheSeconds: number;
  };
  limits: {
    /** Largest JSON request body in bytes. */
    bodyLimitBytes: number;
    /** Largest uploaded document in bytes (also the cap on each document of a bulk package, uncompressed). */
    uploadLimitBytes: number;
    /** Largest bulk deposit package (the zip as uploaded) in bytes. */
    packageLimitBytes: number;
    /** Most entries (files and directories) a bulk deposit package may hold. */
    packageMaxEntries: number;
    /** Cap on a bulk deposit package's entries, uncompressed and summed. */
    packageMaxUncompressedBytes: number;
    /** Time a client may take to send a whole request (slowloris guard; uploads included). */
    requestTimeoutMs: number;
    /** Longest pause between two chunks of an upload (document or package) before it is refused (408) and nothing is stored. */
    uploadIdleTimeoutMs: number;
    /** Time graceful shutdown waits for in-flight requests and jobs. */
    shutdownTimeoutMs: number;
    /** Time a readiness probe waits for each dependency. */
    readinessTimeoutMs: number;
  };
  /** Storage housekeeping. */
  sweeper: {
    /** A stored document blob that no row references is deleted once it is older than this (the orphan sweeper). */
    orphanGraceSeconds: number;
    /** An Idempotency-Key is remembered this long after its deposit; a retry after that deposits anew. */
    idempotencyRetentionSeconds: number;
  };
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** One line per offending variable, so an operator can fix them all at once. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Every variable the hub reads, with its expected form: the README's table is generated from the same facts. */
export const CONFIG_VARIABLES = {
  PORT: 'TCP port, an integer from 0 to 65535 (default 3000)',
  HOST: 'interface to listen on (default 127.0.0.1; 0.0.0.0 in containers)',
  DATA_DIR: 'directory for the embedded profile (default ./data)',
  PUBLIC_URL: 'absolute http(s) URL the hub is reached at (default http://HOST:PORT)',
  TRUST_PROXY: 'true, false, a hop count, or comma-separated proxy addresses/CIDRs whose X-Forwarded-For is trusted (default false)',
  LOG_LEVEL: `one of ${LOG_LEVELS.join(', ')} (default info)`,
  DATABASE_URL: 'postgres://user:password@host:port/database; unset = embedded PGlite in DATA_DIR/db',
  DATABASE_POOL_MAX: 'largest PostgreSQL pool, an integer from 1 to 1000 (default 10)',
  S3_ENDPOINT: 'http(s)://host:port of an S3-compatible store; unset = filesystem in DATA_DIR/blobs',
  S3_BUCKET: 'bucket name, 3-63 characters of a-z, 0-9, . and - (required with S3_ENDPOINT)',
  S3_ACCESS_KEY: 'access key (required with S3_ENDPOINT)',
  S3_SECRET_KEY: 'secret key (required with S3_ENDPOINT)',
  S3_REGION: 'region (default us-east-1)',
  S3_PART_SIZE_MB: 'multipart part size in MiB, an integer from 5 to 512 (default 5: one part is buffered per upload, so memory is uploads × part size)',
  REDIS_URL: 'redis://[user:password@]host:port[/db]; set = BullMQ jobs and the socket.io Redis adapter',
  REDIS_PREFIX: 'key prefix for job queues in Redis, letters, digits, - and _ (default dx)',
  HUB_SECRET: 'at least 32 characters; encrypts signing keys at rest (default: generated into DATA_DIR/hub-secret)',
  OPERATOR_USERNAME: 'operator account created on first start, 3-100 characters (with OPERATOR_PASSWORD)',
  OPERATOR_PASSWORD: 'its initial password, at least 12 characters (with OPERATOR_USERNAME)',
  ACCESS_TOKEN_TTL_SECONDS: 'access token lifetime in seconds, 60 to 86400 (default 900)',
  REFRESH_TOKEN_TTL_SECONDS: 'refresh token lifetime in seconds, 300 to 31536000 (default 1209600)',
  SIGNING_KEY_PUBLISH_DELAY_SECONDS: 'seconds a rotated signing key is published before it signs, 0 to 604800 (default 900)',
  PRINCIPAL_CACHE_SECONDS: 'PostgreSQL only: longest a node reuses a caller\'s account, session and office facts between database checks, 0 to 300 (default 30; 0 = check on every request); changes reach every node at once through PostgreSQL notifications',
  BODY_LIMIT_BYTES: 'largest JSON body in bytes, a positive integer (default 1048576)',
  UPLOAD_LIMIT_BYTES: 'largest uploaded document in bytes, a positive integer (default 536870912); also the cap on each document of a bulk package',
  PACKAGE_LIMIT_BYTES: 'largest bulk deposit package (POST /v1/packages, the zip as sent) in bytes, a positive integer (default 2147483648)',
  PACKAGE_MAX_ENTRIES: 'most entries a bulk deposit package may hold, 1 to 1000000 (default 10000)',
  PACKAGE_MAX_UNCOMPRESSED_BYTES: 'cap on the uncompressed size of a bulk deposit package’s entries, summed, in bytes, a positive integer (default 4294967296)',
  REQUEST_TIMEOUT_MS: 'time to receive a whole request in milliseconds, a positive integer (default 600000)',
  UPLOAD_IDLE_TIMEOUT_MS: 'longest pause between two chunks of an uploaded document or package, in milliseconds, 100 to 600000 (default 15000; below S3\'s own idle timeout): a longer one is refused with 408 and nothing is stored',
  SHUTDOWN_TIMEOUT_MS: 'graceful shutdown budget in milliseconds, a positive integer (default 25000)',
  READINESS_TIMEOUT_MS: 'per-dependency readiness probe timeout in milliseconds (default 2000)',
  ORPHAN_GRACE_SECONDS: 'age in seconds after which a stored document blob that no document references is swept, 1 to 31536000 (default 86400)',
  IDEMPOTENCY_RETENTION_SECONDS: 'how long a deposit\'s Idempotency-Key is remembered, in seconds, 60 to 31536000 (default 604800, a week)',
} as const;

export type ConfigVariable = keyof typeof CONFIG_VARIABLES;

/** The shortest IDEMPOTENCY_RETENTION_SECONDS allowed; the sweep holds a job's own override to it too. */
export const MIN_IDEMPOTENCY_RETENTION_SECONDS = 60;
export type Environment = Partial<Record<ConfigVariable, string | undefined>>;

/** Reads and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Environment, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: ConfigVariable): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const expected = (name: ConfigVariable, got: string): void => {
    problems.push(`${name}=${JSON.stringify(got)} is invalid: expected ${CONFIG_VARIABLES[name]}`);
  };
  const integer = (name: ConfigVariable, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      expected(name, raw);
      return fallback;
    }
    return Number(raw);
  };
  const url = (name: ConfigVariable, protocols: readonly string[]): URL | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol) || parsed.hostname === '') throw new Error('protocol');
      return parsed;
    } catch {
      expected(name, raw);
      return undefined;
    }
  };

  const port = integer('PORT', 3000, 0, 65535);
  const host = read('HOST') ?? '127.0.0.1';
  const dataDir = path.resolve(cwd, read('DATA_DIR') ?? './data');
  const logLevelRaw = read('LOG_LEVEL') ?? 'info';
  const logLevel = (LOG_LEVELS as readonly string[]).includes(logLevelRaw) ? (logLevelRaw as LogLevel) : undefined;
  if (logLevel === undefined) expected('LOG_LEVEL', logLevelRaw);

  const publicUrlParsed = url('PUBLIC_URL', ['http:', 'https:']);
  const displayHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const publicUrl = (publicUrlParsed?.href ?? `http://${displayHost}:${port}`).replace(/\/+$/, '');

  const trustProxyRaw = read('TRUST_PROXY') ?? 'false';
  let trustProxy: Config['trustProxy'] = false;
  if (trustProxyRaw === 'true' || trustProxyRaw === 'false') trustProxy = trustProxyRaw === 'true';
  else if (/^\d{1,2}$/.test(trustProxyRaw)) trustProxy = Number(trustProxyRaw);
  else if (/^[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*$/.test(trustProxyRaw.replaceAll(' ', ''))) trustProxy = trustProxyRaw.replaceAll(' ', '').split(',');
  else expected('TRUST_PROXY', trustProxyRaw);

  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const poolMax = integer('DATABASE_POOL_MAX', 10, 1, 1000);
  const database: Config['database'] = databaseUrl
    ? { driver: 'postgresql', url: databaseUrl.href, poolMax }
    : { driver: 'pglite', dataDir: path.join(dataDir, 'db') };

  let storage: Config['storage'] = { driver: 'filesystem', root: path.join(dataDir, 'blobs') };
  const s3Endpoint = url('S3_ENDPOINT', ['http:', 'https:']);
  const s3Requested = read('S3_ENDPOINT') !== undefined;
  if (s3Requested) {
    const bucket = read('S3_BUCKET');
    const accessKey = read('S3_ACCESS_KEY');
    const secretKey = read('S3_SECRET_KEY');
    if (bucket === undefined) problems.push(`S3_BUCKET is required when S3_ENDPOINT is set: expected ${CONFIG_VARIABLES.S3_BUCKET}`);
    else if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) expected('S3_BUCKET', bucket);
    if (accessKey === undefined) problems.push('S3_ACCESS_KEY is required when S3_ENDPOINT is set');
    if (secretKey === undefined) problems.push('S3_SECRET_KEY is required when S3_ENDPOINT is set');
    const partSize = integer('S3_PART_SIZE_MB', 5, 5, 512) * 1024 * 1024;
    if (s3Endpoint && bucket && accessKey && secretKey) {
      const useSSL = s3Endpoint.protocol === 'https:';
      storage = {
        driver: 's3',
        endPoint: s3Endpoint.hostname,
        port: s3Endpoint.port === '' ? (useSSL ? 443 : 80) : Number(s3Endpoint.port),
        useSSL,
        bucket,
        accessKey,
        secretKey,
        region: read('S3_REGION') ?? 'us-east-1',
        partSize,
      };
    }
  }

  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:'])?.href;
  const redisPrefix = read('REDIS_PREFIX') ?? 'dx';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(redisPrefix)) expected('REDIS_PREFIX', redisPrefix);
  const jobs: Config['jobs'] = redisUrl ? { driver: 'bullmq', redisUrl, prefix: redisPrefix } : { driver: 'in-process' };

  const limits: Config['limits'] = {
    bodyLimitBytes: integer('BODY_LIMIT_BYTES', 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    uploadLimitBytes: integer('UPLOAD_LIMIT_BYTES', 512 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    packageLimitBytes: integer('PACKAGE_LIMIT_BYTES', 2 * 1024 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    packageMaxEntries: integer('PACKAGE_MAX_ENTRIES', 10_000, 1, 1_000_000),
    packageMaxUncompressedBytes: integer('PACKAGE_MAX_UNCOMPRESSED_BYTES', 4 * 1024 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    requestTimeoutMs: integer('REQUEST_TIMEOUT_MS', 600_000, 1, 3_600_000),
    uploadIdleTimeoutMs: integer('UPLOAD_IDLE_TIMEOUT_MS', 15_000, 100, 600_000),
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', 25_000, 1, 3_600_000),
    readinessTimeoutMs: integer('READINESS_TIMEOUT_MS', 2_000, 1, 60_000),
  };

  const sweeper: Config['sweeper'] = {
    orphanGraceSeconds: integer('ORPHAN_GRACE_SECONDS', 86_400, 1, 31_536_000),
    idempotencyRetentionSeconds: integer('IDEMPOTENCY_RETENTION_SECONDS', 604_800, MIN_IDEMPOTENCY_RETENTION_SECONDS, 31_536_000),
  };

  const hubSecret = read('HUB_SECRET');
  if (hubSecret !== undefined && hubSecret.length < 32) problems.push(`HUB_SECRET is too short (${hubSecret.length} characters): expected ${CONFIG_VARIABLES.HUB_SECRET}`);
  const operatorUsername = read('OPERATOR_USERNAME');
  const operatorPassword = read('OPERATOR_PASSWORD');
  if ((operatorUsername === undefined) !== (operatorPassword === undefined)) {
    problems.push('OPERATOR_USERNAME and OPERATOR_PASSWORD must be set together (or neither, to get a one-time setup token)');
  }
  if (operatorUsername !== undefined && (operatorUsername.length < 3 || operatorUsername.length > 100)) expected('OPERATOR_USERNAME', operatorUsername);
  if (operatorPassword !== undefined && operatorPassword.length < 12) {
    problems.push(`OPERATOR_PASSWORD is too short: expected ${CONFIG_VARIABLES.OPERATOR_PASSWORD}`);
  }
  const auth: Config['auth'] = {
    issuer: publicUrl,
    audience: 'dossier-exchange',
    accessTokenTtlSeconds: integer('ACCESS_TOKEN_TTL_SECONDS', 900, 60, 86_400),
    refreshTokenTtlSeconds: integer('REFRESH_TOKEN_TTL_SECONDS', 1_209_600, 300, 31_536_000),
    hubSecret,
    operator: operatorUsername !== undefined && operatorPassword !== undefined ? { username: operatorUsername, password: operatorPassword } : undefined,
    keyPublishDelaySeconds: integer('SIGNING_KEY_PUBLISH_DELAY_SECONDS', 900, 0, 604_800),
    principalCacheSeconds: integer('PRINCIPAL_CACHE_SECONDS', 30, 0, 300),
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return { port, host, dataDir, publicUrl, trustProxy, logLevel: logLevel ?? 'info', database, storage, redisUrl, jobs, auth, limits, sweeper };
}

/** The environment variables the hub knows, picked from `process.env` (the only place that reads it). */
export function environmentFromProcess(): Environment {
  const env: Environment = {};
  for (const name of Object.keys(CONFIG_VARIABLES) as ConfigVariable[]) env[name] = process.env[name];
  return env;
}
