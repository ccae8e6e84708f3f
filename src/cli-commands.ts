/** The commands of `npm run cli`, importable (src/cli.ts is the process around them). */
import { parseArgs } from 'node:util';
import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { createAuditLog } from './access/audit.js';
import { createOperatorService } from './access/bootstrap.js';
import { createKeyService } from './access/keys.service.js';
import { createOfficeService } from './access/office.service.js';
import { CreateOfficeBody, UpdateOfficeBody, type CreateOfficeInput, type OfficeRole, type UpdateOfficeInput } from './access/office.schemas.js';
import { createPasswordHasher, type PasswordHasher } from './access/passwords.js';
import { systemPrincipal } from './access/principal.js';
import { loadHubSecret } from './access/secrets.js';
import { createKeySet } from './access/signing-keys.js';
import { runIngest, type ProgressOutput } from './cli-ingest.js';
import type { Config } from './platform/config.js';
import type { Database } from './platform/database/database.js';

export const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  offices list
  offices add <CODE> --name <name> [--roles providing,accessing] [--provider-mode repository|webService]
                     [--web-service-url <url>] [--public-access] [--status active|suspended]
  offices update <CODE> [--name <name>] [--roles providing,accessing|none] [--provider-mode repository|webService|none]
                     [--web-service-url <url>|none] [--public-access true|false] [--status active|suspended]

  operator create <username> [--password <password>]
  operator reset-password <username> [--password <password>]
      Without --password the password is read from standard input (e.g. a pipe).
  keys list
  keys rotate [--activate-now]
      The new key is published now and signs after SIGNING_KEY_PUBLISH_DELAY_SECONDS, or at once with --activate-now.

  ingest <file.ndjson|package.zip> --hub <url> (--token <token> | --client-id <id> --client-secret <secret>)
      Sends bibliographic data (NDJSON, one application per line) to the hub's bulk ingest, or a deposit package
      (zip) to POST /v1/packages, streamed with a progress bar on standard error; prints a summary at the end.
      Needs no database: it talks to the hub over HTTP.

The CLI uses the same configuration as the server (DATABASE_URL, DATA_DIR, ...).
With the embedded database, stop the hub first: PGlite allows one process at a time.`;

/** A mistake in how the CLI was called: print usage, exit 2. */
export class UsageError extends Error {}

const OPTIONS = {
  name: { type: 'string' },
  roles: { type: 'string' },
  'provider-mode': { type: 'string' },
  'web-service-url': { type: 'string' },
  'public-access': { type: 'string' },
  status: { type: 'string' },
  password: { type: 'string' },
  'activate-now': { type: 'boolean' },
  hub: { type: 'string' },
  token: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseRoles(raw: string): OfficeRole[] {
  if (raw === 'none' || raw === '') return [];
  return raw.split(',').map((role) => role.trim()) as OfficeRole[];
}

function nullable(raw: string): string | null {
  return raw === 'none' ? null : raw;
}

function parseBoolean(flag: string, raw: string): boolean {
  if (raw === 'true' || raw === '') return true;
  if (raw === 'false') return false;
  throw new UsageError(`--${flag} takes true or false, not "${raw}"`);
}

/** Validates CLI input with the same schema the HTTP API uses, naming each bad field. */
function validated<T extends TSchema>(schema: T, value: unknown): unknown {
  const withDefaults = Value.Default(schema, Value.Clone(value));
  const errors = Value.Errors(schema, withDefaults);
  if (errors.length > 0) {
    throw new UsageError(errors.map((error) => `${error.instancePath || '(input)'}: ${error.message}`).join('\n'));
  }
  return withDefaults;
}

export interface CliContext {
  /** The configuration, read when a command needs it (so `--help` works without one). */
  config(): Config;
  /** Opens the database; `release` closes it (or not, when it is borrowed). */
  database(config: Config): Promise<{ db: Database; release: () => Promise<void> }>;
  /** All of standard input (a password piped in). */
  readStdin(): Promise<string>;
  /** Defaults to the secure cost; tests pass a cheaper one. */
  hasher?: PasswordHasher;
  /** `ingest`: where its progress goes (default standard error) and how it calls the hub (default global fetch). */
  progress?: ProgressOutput;
  fetch?: typeof fetch;
}

/** The password of `operator create|reset-password`: `--password`, or standard input without prompting. */
async function passwordFrom(values: { password?: string | undefined }, context: CliContext): Promise<string> {
  if (values.password !== undefined) return values.password;
  const piped = (await context.readStdin()).replace(/\r?\n$/, '');
  if (piped === '') throw new UsageError('Give the password with --password or on standard input');
  return piped;
}

/** Runs one command and returns what to print; throws UsageError, AppError or ConfigError. */
export async function runCli(argv: string[], context: CliContext): Promise<string> {
  // `--public-access` alone means true; parseArgs wants a value for string options.
  const normalised = argv.map((arg, index) => (arg === '--public-access' && (argv[index + 1] === undefined || argv[index + 1]?.startsWith('--')) ? '--public-access=true' : arg));
  const { values, positionals } = parseArgs({ args: normalised, options: OPTIONS, allowPositionals: true, strict: true });
  const [group, command, subject] = positionals;
  if (values.help || group === undefined) return USAGE;
  if (group === 'ingest') {
    if (command === undefined) throw new UsageError('ingest needs the file to send');
    if (values.hub === undefined) throw new UsageError('ingest needs --hub <url>');
    return runIngest(
      { file: command, hub: values.hub, token: values.token, clientId: values['client-id'], clientSecret: values['client-secret'] },
      { fetch: context.fetch ?? fetch, progress: context.progress ?? process.stderr },
    );
  }
  if (!['offices', 'operator', 'keys'].includes(group)) throw new UsageError(`Unknown command "${group}"`);

  const config = context.config();
  const { db, release } = await context.database(config);
  const principal = systemPrincipal('cli');
  const em = db.fork();
  const audit = createAuditLog({ em, context: { ip: null, requestId: null } });
  try {
    if (group === 'operator') {
      const operators = createOperatorService({ em, hasher: context.hasher ?? createPasswordHasher() });
      if (!subject) throw new UsageError(`operator ${command ?? ''} needs a username`);
      switch (command) {
        case 'create': {
          const account = await operators.create(principal, subject, await passwordFrom(values, context));
          return `Created operator ${account.username} (${account.id})`;
        }
        case 'reset-password': {
          const account = await operators.resetPassword(principal, subject, await passwordFrom(values, context));
          return `Reset the password of operator ${account.username}; its sessions have ended`;
        }
        default:
          throw new UsageError(`Unknown operator command "${command ?? ''}"`);
      }
    }

    if (group === 'keys') {
      const { secret } = await loadHubSecret({ hubSecret: config.auth.hubSecret, dataDir: config.dataDir });
      const keys = createKeyService({ keys: await createKeySet({ db, hubSecret: secret, publishDelaySeconds: config.auth.keyPublishDelaySeconds }), audit, em });
      switch (command) {
        case 'list':
          return (await keys.list(principal)).items.map((key) => `${key.kid}  ${key.status.padEnd(9)}  activates ${key.activatesAt}${key.retiredAt ? `  retired ${key.retiredAt}` : ''}`).join('\n');
        case 'rotate': {
          const key = await keys.rotate(principal, { activateNow: values['activate-now'] === true });
          return key.status === 'active'
            ? `New signing key ${key.kid} is published and signs now`
            : `New signing key ${key.kid} is published now and signs from ${key.activatesAt}`;
        }
        default:
          throw new UsageError(`Unknown keys command "${command ?? ''}"`);
      }
    }

    const offices = createOfficeService({ em, audit });
    const code = subject;
    switch (command) {
      case 'list': {
        const lines: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await offices.list(principal, { limit: 200, cursor });
          for (const office of page.items) {
            lines.push(`${office.code}  ${office.status.padEnd(9)}  ${(office.roles.join(',') || '-').padEnd(20)}  ${office.providerMode ?? '-'}  public=${office.publicAccess}  ${office.name}`);
          }
          cursor = page.nextCursor;
        } while (cursor);
        return lines.length > 0 ? lines.join('\n') : 'No offices yet.';
      }
      case 'add': {
        if (!code) throw new UsageError('offices add needs a CODE');
        const input = {
          code,
          name: values.name,
          roles: values.roles === undefined ? [] : parseRoles(values.roles),
          ...(values['provider-mode'] !== undefined ? { providerMode: nullable(values['provider-mode']) } : {}),
          ...(values['web-service-url'] !== undefined ? { webServiceUrl: nullable(values['web-service-url']) } : {}),
          publicAccess: values['public-access'] === undefined ? false : parseBoolean('public-access', values['public-access']),
          ...(values.status !== undefined ? { status: values.status } : {}),
        };
        const office = await offices.create(principal, validated(CreateOfficeBody, input) as CreateOfficeInput);
        return `Added office ${office.code}: ${JSON.stringify(office)}`;
      }
      case 'update': {
        if (!code) throw new UsageError('offices update needs a CODE');
        const input = {
          ...(values.name !== undefined ? { name: values.name } : {}),
          ...(values.roles !== undefined ? { roles: parseRoles(values.roles) } : {}),
          ...(values['provider-mode'] !== undefined ? { providerMode: nullable(values['provider-mode']) } : {}),
          ...(values['web-service-url'] !== undefined ? { webServiceUrl: nullable(values['web-service-url']) } : {}),
          ...(values['public-access'] !== undefined ? { publicAccess: parseBoolean('public-access', values['public-access']) } : {}),
          ...(values.status !== undefined ? { status: values.status } : {}),
        };
        const office = await offices.update(principal, code, validated(UpdateOfficeBody, input) as UpdateOfficeInput);
        return `Updated office ${office.code}: ${JSON.stringify(office)}`;
      }
      default:
        throw new UsageError(`Unknown offices command "${command ?? ''}"`);
    }
  } finally {
    await release();
  }
}
