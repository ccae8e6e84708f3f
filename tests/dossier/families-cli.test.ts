import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, type CliContext } from '../../src/cli-commands.js';
import { IngestError } from '../../src/cli-ingest.js';
import { call, createSecretClient, OPERATOR_ENV } from '../support/access.js';
import { biblio, countRows, seedDepositWorld, type DepositWorld } from '../support/deposits.js';
import { generateApplications, toNdjson } from '../support/biblio-data.js';
import { expectFamiliesConsistent } from '../support/families.js';
import { describeEachProfile, startTestHub, type TestHub } from '../support/hub.js';
import { buildZip } from '../support/zip-writer.js';

/** `npm run cli -- ingest …` against a hub listening on a port, as an office would run it. */
describeEachProfile('families: the CLI sends an NDJSON file or a deposit package to a hub', (profile) => {
  let hub: TestHub;
  let world: DepositWorld;
  let base: string;
  let directory: string;
  let client: { id: string; secret: string };

  /** runCli with the progress captured; the ingest command needs neither configuration nor database. */
  async function cli(args: string[]): Promise<{ output: string; progress: string }> {
    let progress = '';
    const context: CliContext = {
      config: () => {
        throw new Error('ingest must not read the configuration');
      },
      database: () => Promise.reject(new Error('ingest must not open the database')),
      readStdin: () => Promise.resolve(''),
      progress: { write: (text: string) => (progress += text), isTTY: false },
    };
    const output = await runCli(args, context);
    return { output, progress };
  }

  beforeAll(async () => {
    hub = await startTestHub(profile, OPERATOR_ENV);
    world = await seedDepositWorld(hub.app);
    client = await createSecretClient(hub.app, world.jp.admin.token, 'JP', world.jp.branches[0]?.id ?? '', 'CLI ingest');
    await hub.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(hub.app.server.address() as AddressInfo).port}`;
    directory = await mkdtemp(path.join(os.tmpdir(), 'dx-cli-ingest-'));
  });
  afterAll(async () => {
    await hub?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it('streams an NDJSON file to the bulk ingest with a progress bar and prints a summary (client credentials)', { timeout: 120_000 }, async () => {
    const lines = [...generateApplications({ applications: 5_000, seed: 11, offices: ['JP'] })];
    const file = path.join(directory, 'applications.ndjson');
    await writeFile(file, `${toNdjson(lines)}{"officeCode":"JP","applicationNumber":"not a number"}\n`);
    const { output, progress } = await cli(['ingest', file, '--hub', base, '--client-id', client.id, '--client-secret', client.secret]);
    expect(output).toContain(`Ingested applications.ndjson: ${(lines.length + 1).toLocaleString('en')} lines`);
    expect(output).toContain(`accepted ${lines.length.toLocaleString('en')} (created ${lines.length.toLocaleString('en')}, updated 0), rejected 1`);
    expect(output).toMatch(new RegExp(`line ${lines.length + 1}: VALIDATION_FAILED`));
    expect(progress).toMatch(/ingest \[#{30}\] 100% .* 5,00\d lines/);
    expect(await countRows(hub.app, 'application')).toBe(lines.length);
    await expectFamiliesConsistent(hub.app.db.fork());
  });

  it('sends a deposit package (zip) to POST /v1/packages and follows it to its end (bearer token)', { timeout: 120_000 }, async () => {
    const manifest = {
      applications: [
        { applicationNumber: 'JP 2020-900001', ...biblio({ priorityClaims: [], publications: [] }) },
        { applicationNumber: 'JP 2020-900002', ...biblio({ priorityClaims: [{ officeCode: 'JP', number: 'JP 2020-900001', date: '2020-01-01' }], publications: [] }) },
      ],
    };
    const file = path.join(directory, 'package.zip');
    await writeFile(file, buildZip([{ name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) }]));
    const { output, progress } = await cli(['ingest', file, '--hub', base, '--token', world.jp.client.token]);
    expect(progress).toMatch(/upload \[#{30}\] 100%/);
    expect(output).toMatch(/^Package package\.zip \(.+\) completed/);
    expect(output).toContain('application: 2 accepted, 0 refused');
    // Applications deposited by package keep their families current too.
    const [one, two] = await Promise.all(
      ['2020900001', '2020900002'].map(async (number) => (await call(hub.app, 'GET', `/v1/applications/JP/${number}`, { token: world.jp.client.token })).json<{ simpleFamilyId: string }>()),
    );
    expect(one?.simpleFamilyId).toBeDefined();
    expect(one?.simpleFamilyId).toBe(two?.simpleFamilyId);
  });

  it('stops with a clear error for a refused token, a missing file, or no hub', async () => {
    const file = path.join(directory, 'tiny.ndjson');
    await writeFile(file, '\n');
    await expect(cli(['ingest', file, '--hub', base, '--token', 'not-a-token'])).rejects.toThrow(/The hub refused the ingest: 401 /);
    await expect(cli(['ingest', path.join(directory, 'missing.ndjson'), '--hub', base, '--token', 'x'])).rejects.toBeInstanceOf(IngestError);
    await expect(cli(['ingest', file, '--hub', 'http://127.0.0.1:1', '--token', 'x'])).rejects.toThrow(/Could not send/);
    await expect(cli(['ingest', file, '--token', 'x'])).rejects.toThrow(/--hub/);
    await expect(cli(['ingest', file, '--hub', base, '--client-id', client.id, '--client-secret', 'wrong'])).rejects.toThrow(/client credentials/);
  });
});
