import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Environment } from '../../src/platform/config.js';

function problemsOf(env: Environment): string[] {
  try {
    loadConfig(env, '/srv/hub');
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('defaults to the embedded profile with nothing set', () => {
    const config = loadConfig({}, '/srv/hub');
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.database).toEqual({ driver: 'pglite', dataDir: '/srv/hub/data/db' });
    expect(config.storage).toEqual({ driver: 'filesystem', root: '/srv/hub/data/blobs' });
    expect(config.jobs).toEqual({ driver: 'in-process' });
    expect(config.redisUrl).toBeUndefined();
    expect(config.publicUrl).toBe('http://127.0.0.1:3000');
    expect(config.limits.uploadLimitBytes).toBe(512 * 1024 * 1024);
    expect(config.trustProxy).toBe(false);
  });

  it.each([
    ['true', true],
    ['2', 2],
    ['10.0.0.0/8, 192.168.1.1', ['10.0.0.0/8', '192.168.1.1']],
  ] as const)('reads TRUST_PROXY=%s', (raw, expected) => {
    expect(loadConfig({ TRUST_PROXY: raw }, '/srv/hub').trustProxy).toEqual(expected);
  });

  it('switches every service to the production profile from the usual variables', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        HOST: '0.0.0.0',
        DATA_DIR: '/var/lib/dx',
        PUBLIC_URL: 'https://hub.example.org/',
        DATABASE_URL: 'postgres://dx:secret@db:5432/dx',
        S3_ENDPOINT: 'https://s3.example.org',
        S3_BUCKET: 'dossiers',
        S3_ACCESS_KEY: 'key',
        S3_SECRET_KEY: 'secret',
        REDIS_URL: 'redis://redis:6379/0',
        LOG_LEVEL: 'warn',
      },
      '/srv/hub',
    );
    expect(config.port).toBe(8080);
    expect(config.publicUrl).toBe('https://hub.example.org');
    expect(config.database).toMatchObject({ driver: 'postgresql', url: 'postgres://dx:secret@db:5432/dx' });
    expect(config.storage).toMatchObject({ driver: 's3', endPoint: 's3.example.org', port: 443, useSSL: true, bucket: 'dossiers' });
    expect(config.jobs).toMatchObject({ driver: 'bullmq', redisUrl: 'redis://redis:6379/0', prefix: 'dx' });
    expect(config.logLevel).toBe('warn');
  });

  it.each<[string, Environment, RegExp]>([
    ['a port that is not a number', { PORT: 'eighty' }, /^PORT="eighty" is invalid: expected TCP port/],
    ['a port out of range', { PORT: '70000' }, /^PORT="70000" is invalid/],
    ['a negative port', { PORT: '-1' }, /^PORT="-1" is invalid/],
    ['an unknown log level', { LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud" is invalid: expected one of fatal, error/],
    ['a database URL of another scheme', { DATABASE_URL: 'mysql://db/dx' }, /^DATABASE_URL="mysql:\/\/db\/dx" is invalid: expected postgres:\/\//],
    ['a database URL that is not a URL', { DATABASE_URL: 'localhost:5432' }, /^DATABASE_URL="localhost:5432" is invalid/],
    ['a public URL that is not http', { PUBLIC_URL: 'ftp://hub' }, /^PUBLIC_URL="ftp:\/\/hub" is invalid/],
    ['an S3 endpoint without a bucket', { S3_ENDPOINT: 'http://s3:9000', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }, /^S3_BUCKET is required when S3_ENDPOINT is set/],
    ['an S3 endpoint without an access key', { S3_ENDPOINT: 'http://s3:9000', S3_BUCKET: 'docs', S3_SECRET_KEY: 'b' }, /^S3_ACCESS_KEY is required/],
    ['an invalid bucket name', { S3_ENDPOINT: 'http://s3:9000', S3_BUCKET: 'Bad_Bucket', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b' }, /^S3_BUCKET="Bad_Bucket" is invalid/],
    ['a part size below the S3 minimum', { S3_ENDPOINT: 'http://s3:9000', S3_BUCKET: 'docs', S3_ACCESS_KEY: 'a', S3_SECRET_KEY: 'b', S3_PART_SIZE_MB: '4' }, /^S3_PART_SIZE_MB="4" is invalid/],
    ['a Redis URL of another scheme', { REDIS_URL: 'http://redis:6379' }, /^REDIS_URL="http:\/\/redis:6379" is invalid: expected redis:\/\//],
    ['a Redis prefix with separators', { REDIS_PREFIX: 'dx:prod' }, /^REDIS_PREFIX="dx:prod" is invalid/],
    ['a body limit that is not an integer', { BODY_LIMIT_BYTES: '1e6' }, /^BODY_LIMIT_BYTES="1e6" is invalid/],
    ['an upload limit of zero', { UPLOAD_LIMIT_BYTES: '0' }, /^UPLOAD_LIMIT_BYTES="0" is invalid/],
    ['a trust-proxy setting that is neither a flag, a count nor addresses', { TRUST_PROXY: 'yes please' }, /^TRUST_PROXY="yes please" is invalid/],
    ['a short hub secret', { HUB_SECRET: 'short' }, /^HUB_SECRET is too short/],
    ['an operator username without a password', { OPERATOR_USERNAME: 'root' }, /^OPERATOR_USERNAME and OPERATOR_PASSWORD must be set together/],
    ['a short operator password', { OPERATOR_USERNAME: 'root', OPERATOR_PASSWORD: 'short' }, /^OPERATOR_PASSWORD is too short/],
  ])('refuses %s, naming the variable and the expected form', (_case, env, message) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('reports every bad variable at once', () => {
    const problems = problemsOf({ PORT: 'x', LOG_LEVEL: 'y', REDIS_URL: 'z' });
    expect(problems.map((problem) => problem.split('=')[0])).toEqual(['PORT', 'LOG_LEVEL', 'REDIS_URL']);
  });

  it('stops the server before it starts, printing the variable and exiting with EX_CONFIG', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, PORT: 'not-a-port', DATABASE_URL: 'mysql://x/y' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(78);
    expect(stderr).toContain('PORT="not-a-port" is invalid: expected TCP port');
    expect(stderr).toContain('DATABASE_URL="mysql://x/y" is invalid');
  });
});

describe('PRINCIPAL_CACHE_SECONDS', () => {
  it('defaults to 30 seconds, takes 0 to turn the cache off, and refuses what is not a whole number of seconds up to 300', () => {
    expect(loadConfig({}, '/srv/hub').auth.principalCacheSeconds).toBe(30);
    expect(loadConfig({ PRINCIPAL_CACHE_SECONDS: '0' }, '/srv/hub').auth.principalCacheSeconds).toBe(0);
    expect(loadConfig({ PRINCIPAL_CACHE_SECONDS: '300' }, '/srv/hub').auth.principalCacheSeconds).toBe(300);
    for (const bad of ['301', '-1', '1.5', 'soon']) {
      expect(problemsOf({ PRINCIPAL_CACHE_SECONDS: bad }).join(' '), bad).toMatch(/PRINCIPAL_CACHE_SECONDS/);
    }
  });
});
