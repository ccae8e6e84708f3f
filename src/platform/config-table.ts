import { CONFIG_VARIABLES, type ConfigVariable } from './config.js';

const PROFILE_OF: Partial<Record<ConfigVariable, string>> = {
  DATABASE_URL: 'production',
  DATABASE_POOL_MAX: 'production',
  S3_ENDPOINT: 'production',
  S3_BUCKET: 'production',
  S3_ACCESS_KEY: 'production',
  S3_SECRET_KEY: 'production',
  S3_REGION: 'production',
  S3_PART_SIZE_MB: 'production',
  REDIS_URL: 'production',
  REDIS_PREFIX: 'production',
};

/** The README's configuration table, one row per variable the hub reads. */
export function configurationTable(): string {
  const rows = (Object.entries(CONFIG_VARIABLES) as [ConfigVariable, string][]).map(
    ([name, description]) => `| \`${name}\` | ${PROFILE_OF[name] ?? 'both'} | ${description.replaceAll('|', '\\|')} |`,
  );
  return ['| variable | profile | expected form and default |', '| --- | --- | --- |', ...rows].join('\n');
}
