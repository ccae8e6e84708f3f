import { spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountEntity, OperatorSetupTokenEntity } from '../../src/access/account.entity.js';
import { createPasswordHasher } from '../../src/access/passwords.js';
import { runCli, UsageError } from '../../src/cli-commands.js';
import type { Environment } from '../../src/platform/config.js';
import { call, expectProblem, login, OPERATOR, OPERATOR_ENV } from '../support/access.js';
import { describeEachProfile, provisionProfile, startHub, startTestHub, type TestHub } from '../support/hub.js';

const root = path.resolve(import.meta.dirname, '../..');

/** Collects the hub's JSON log lines. */
function logSink(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describeEachProfile('operator bootstrap', (profile) => {
  describe('from configuration', () => {
    let hub: TestHub;
    beforeAll(async () => {
      hub = await startTestHub(profile, OPERATOR_ENV);
    });
    afterAll(async () => {
      await hub?.close();
    });

    it('creates the operator on first start, once, and it can log in', async () => {
      await login(hub.app, OPERATOR.username, OPERATOR.password);
      await hub.restart();
      expect(await hub.app.db.fork().count(AccountEntity, { role: 'operator' })).toBe(1);
      expect(await hub.app.db.fork().count(OperatorSetupTokenEntity, {})).toBe(0);
      const token = (await login(hub.app, OPERATOR.username, OPERATOR.password)).accessToken;
      const events = (await call(hub.app, 'GET', '/v1/audit-events?type=account.created', { token })).json<{ items: unknown[] }>().items;
      expect(events).toEqual([expect.objectContaining({ actor: { kind: 'system', id: 'bootstrap' }, details: expect.objectContaining({ username: OPERATOR.username, role: 'operator' }) })]);
    });
  });

  describe('with a one-time setup token', () => {
    let hub: TestHub;
    const logs = logSink();
    let setupToken: string;

    beforeAll(async () => {
      hub = await startTestHub(profile, {}, { logger: { level: 'warn', stream: logs.stream } });
      const line = logs.lines.find((entry) => typeof entry.setupToken === 'string');
      setupToken = String(line?.setupToken);
    });
    afterAll(async () => {
      await hub?.close();
    });

    it('prints the token at warn level on first start, and keeps only its hash', async () => {
      const line = logs.lines.find((entry) => typeof entry.setupToken === 'string');
      expect(line).toMatchObject({ level: 40, msg: expect.stringContaining('POST /v1/auth/setup') });
      expect(setupToken).toMatch(/^dxsetup_[\w-]{43}$/);
      const rows = await hub.app.db.fork().find(OperatorSetupTokenEntity, {});
      expect(rows).toHaveLength(1);
      expect(rows[0]?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(rows)).not.toContain(setupToken);
    });

    it('refuses a wrong token (401) and creates nothing', async () => {
      expectProblem(await call(hub.app, 'POST', '/v1/auth/setup', { body: { setupToken: 'dxsetup_wrong', username: 'root-operator', password: 'a long operator password' } }), 401, 'INVALID_SETUP_TOKEN');
      expect(await hub.app.db.fork().count(AccountEntity, { role: 'operator' })).toBe(0);
      expectProblem(await call(hub.app, 'POST', '/v1/auth/setup', { body: { setupToken, username: 'root-operator', password: 'short' } }), 400, 'VALIDATION_FAILED');
    });

    it('lets the operator set a password once; the token then stops working', async () => {
      const created = await call(hub.app, 'POST', '/v1/auth/setup', { body: { setupToken, username: 'Root-Operator', password: 'a long operator password' } });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ user: { username: 'root-operator', role: 'operator', officeCode: null } });
      const token = (await login(hub.app, 'root-operator', 'a long operator password')).accessToken;
      expect((await call(hub.app, 'GET', '/v1/me', { token })).json()).toMatchObject({ kind: 'operator' });
      expectProblem(await call(hub.app, 'POST', '/v1/auth/setup', { body: { setupToken, username: 'second-operator', password: 'a long operator password' } }), 401, 'INVALID_SETUP_TOKEN');
      expect(await hub.app.db.fork().count(AccountEntity, { role: 'operator' })).toBe(1);
      expect(await hub.app.db.fork().count(OperatorSetupTokenEntity, {})).toBe(0);
    });

    it('prints no token once an operator exists', async () => {
      const printed = logs.lines.filter((entry) => typeof entry.setupToken === 'string').length;
      await hub.restart();
      expect(logs.lines.filter((entry) => typeof entry.setupToken === 'string')).toHaveLength(printed);
    });
  });

  describe('from the command line', () => {
    let hub: TestHub;
    beforeAll(async () => {
      hub = await startTestHub(profile, OPERATOR_ENV);
    });
    afterAll(async () => {
      await hub?.close();
    });

    /** The CLI's commands on this hub's database (and DATA_DIR), without a new process. */
    const cli = (argv: string[], stdin = '') =>
      runCli(argv, {
        config: () => hub.config,
        database: async () => ({ db: hub.app.db, release: async () => undefined }),
        readStdin: async () => stdin,
        hasher: createPasswordHasher({ cost: 2 ** 10 }),
      });

    it('creates an operator with a password from standard input or --password', async () => {
      expect(await cli(['operator', 'create', 'night-operator'], 'night shift password\n')).toMatch(/^Created operator night-operator/);
      await login(hub.app, 'night-operator', 'night shift password');
      expect(await cli(['operator', 'create', 'day-operator', '--password', 'day shift password'])).toMatch(/^Created operator day-operator/);
      await login(hub.app, 'day-operator', 'day shift password');
    });

    it('refuses a taken name, a weak or missing password, and creates nothing', async () => {
      const before = await hub.app.db.fork().count(AccountEntity, {});
      await expect(cli(['operator', 'create', 'night-operator', '--password', 'another good password'])).rejects.toMatchObject({ errorCode: 'USERNAME_TAKEN' });
      await expect(cli(['operator', 'create', 'new-operator', '--password', 'short'])).rejects.toMatchObject({ errorCode: 'WEAK_PASSWORD' });
      await expect(cli(['operator', 'create', 'new-operator'])).rejects.toBeInstanceOf(UsageError);
      await expect(cli(['operator', 'create'])).rejects.toBeInstanceOf(UsageError);
      expect(await hub.app.db.fork().count(AccountEntity, {})).toBe(before);
    });

    it('resets an operator’s password: unlocks it and ends its sessions', async () => {
      const tokens = await login(hub.app, 'night-operator', 'night shift password');
      await hub.app.db.fork().nativeUpdate(AccountEntity, { username: 'night-operator' }, { lockedUntil: new Date(Date.now() + 600_000), failedLoginCount: 9 });
      expect(await cli(['operator', 'reset-password', 'night-operator'], 'a fresh night password')).toMatch(/Reset the password/);
      expectProblem(await call(hub.app, 'GET', '/v1/me', { token: tokens.accessToken }), 401, 'SESSION_ENDED');
      await login(hub.app, 'night-operator', 'a fresh night password');
      await expect(cli(['operator', 'reset-password', OPERATOR.username.replace('operator', 'nobody'), '--password', 'whatever password'])).rejects.toMatchObject({ errorCode: 'OPERATOR_NOT_FOUND' });
    });

    it('rotates the signing key (published, or active at once) and lists the keys', async () => {
      const before = (await login(hub.app, OPERATOR.username, OPERATOR.password)).accessToken;
      expect(await cli(['keys', 'rotate'])).toMatch(/is published now and signs from/);
      await hub.app.signingKeys.refresh();
      expect(decodeProtectedHeader((await login(hub.app, OPERATOR.username, OPERATOR.password)).accessToken).kid).toBe(decodeProtectedHeader(before).kid);
      const output = await cli(['keys', 'rotate', '--activate-now']);
      expect(output).toMatch(/signs now/);
      const kid = /key (\S+) /.exec(output)?.[1];
      await hub.app.signingKeys.refresh();
      expect(decodeProtectedHeader((await login(hub.app, OPERATOR.username, OPERATOR.password)).accessToken).kid).toBe(kid);
      expect((await call(hub.app, 'GET', '/v1/me', { token: before })).statusCode).toBe(200);
      const listed = await cli(['keys', 'list']);
      expect(listed.split('\n')).toHaveLength(3);
      expect(listed).toMatch(/retired/);
      expect(listed).toMatch(new RegExp(`${kid ?? '-'} +active`));
    });
  });
});

/** The real process, as an operator types it (`npm run cli`), once per profile. */
describeEachProfile('operator command line process', (profile) => {
  async function cli(env: Environment, args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: root, env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(stdin ?? '');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { code, stdout, stderr };
  }

  it('creates an operator from a piped password, rotates the key, and the hub uses both', { timeout: 90_000 }, async () => {
    const provisioned = await provisionProfile(profile, { embeddedOnDisk: true });
    try {
      const created = await cli(provisioned.env, ['operator', 'create', 'cli-operator'], 'piped operator password\n');
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      const rotated = await cli(provisioned.env, ['keys', 'rotate', '--activate-now']);
      expect(rotated.code).toBe(0);
      const kid = /key (\S+) /.exec(rotated.stdout)?.[1];

      const { app } = await startHub(provisioned.env, provisioned.pglite);
      try {
        const tokens = await login(app, 'cli-operator', 'piped operator password');
        expect(decodeProtectedHeader(tokens.accessToken).kid).toBe(kid);
      } finally {
        await app.close();
      }
    } finally {
      await provisioned.release();
    }
  });
});
