import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { buildApp } from '../app.js';
import { loadConfig } from './config.js';

/**
 * Builds a throw-away embedded hub and returns its OpenAPI document: what `npm run openapi`
 * commits and what the drift test compares with.
 */
export async function generateOpenApiDocument(): Promise<unknown> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dx-openapi-'));
  const pglite = new PGlite();
  try {
    const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' }), logger: false, pglite, runJobs: false });
    try {
      await app.ready();
      return app.swagger();
    } finally {
      await app.close();
    }
  } finally {
    await pglite.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The committed form: stable key order from the generator, two-space indent, trailing newline. */
export function serialiseOpenApiDocument(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
