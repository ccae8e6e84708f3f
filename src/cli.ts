import { runCli, USAGE, UsageError } from './cli-commands.js';
import { IngestError } from './cli-ingest.js';
import { entities } from './entities.js';
import { ConfigError, environmentFromProcess, loadConfig } from './platform/config.js';
import { openDatabase } from './platform/database/database.js';
import { AppError } from './platform/errors.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  try {
    const output = await runCli(process.argv.slice(2), {
      config: () => loadConfig(environmentFromProcess()),
      async database(config) {
        const db = await openDatabase({ config: config.database, entities });
        await db.migrate();
        return { db, release: () => db.close() };
      },
      readStdin,
    });
    console.log(output);
    return 0;
  } catch (error) {
    if (error instanceof AppError) {
      console.error(`error: ${error.detail} (${error.errorCode})`);
      return 1;
    }
    if (error instanceof IngestError) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 78;
    }
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main();
