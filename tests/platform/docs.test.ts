import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../src/platform/config.js';
import { configurationTable } from '../../src/platform/config-table.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('documentation and deployment files agree with the configuration code', () => {
  it('the README opens with the two commands and lists every variable (npm run docs:config)', async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toMatch(/^npm ci && npm start/m);
    expect(firstBlock).toMatch(/^npm ci && npm test/m);
    expect(readme).toContain(`<!-- config-table:start -->\n${configurationTable()}\n<!-- config-table:end -->`);
  });

  it('the compose file sets only variables the hub reads, and the ones the production profile needs', async () => {
    const compose = await readFile(path.join(root, 'docker/compose.yml'), 'utf8');
    const hubEnvironment = /x-hub-environment: &hub-environment\n((?: {2}.*\n|\s*\n)+)/.exec(compose)?.[1] ?? '';
    const names = [...hubEnvironment.matchAll(/^ {2}([A-Z0-9_]+):/gm)].map((match) => match[1]);
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(Object.keys(CONFIG_VARIABLES), `${name} in docker/compose.yml`).toContain(name);
    for (const required of ['DATABASE_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'REDIS_URL', 'HUB_SECRET']) {
      expect(names).toContain(required);
    }
  });

  it('the Dockerfile builds a non-root Node 22 image that runs the compiled server', async () => {
    const dockerfile = await readFile(path.join(root, 'docker/Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM node:22/gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/server\.js"\]$/m);
  });
});
