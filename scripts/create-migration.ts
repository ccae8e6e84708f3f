/**
 * Generates the next migration from the difference between the entities and the
 * schema the committed migrations produce, on a throw-away in-memory PGlite, and
 * registers it in migrations/index.ts. Usage: npm run migration:create -- <name>
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase } from '../src/platform/database/database.js';
import { entities } from '../src/entities.js';

const migrationsDir = path.resolve(import.meta.dirname, '../src/platform/database/migrations');
const name = process.argv[2] ?? 'change';

const pglite = new PGlite();
const database = await openDatabase({ config: { driver: 'pglite', dataDir: '' }, entities, pglite });
try {
  await database.migrate();
  const sql = await database.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: true });
  if (sql.trim() === '') {
    console.log('Entities and migrations agree: nothing to generate.');
  } else {
    const existing = (await readdir(migrationsDir)).filter((file) => /^\d{4}-.*\.ts$/.test(file));
    const sequence = String(existing.length + 1).padStart(4, '0');
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    const file = `${sequence}-${slug}.ts`;
    const className = `Migration${sequence}${slug.replace(/(^|-)([a-z0-9])/g, (_m, _d: string, c: string) => c.toUpperCase())}`;
    const statements = sql
      .split(/;\n/)
      .map((statement) => statement.trim().replace(/;$/, ''))
      .filter((statement) => statement !== '');
    const body = statements.map((statement) => `    this.addSql(${JSON.stringify(statement + ';')});`).join('\n');
    await writeFile(
      path.join(migrationsDir, file),
      `import { Migration } from '@mikro-orm/migrations';\n\nexport class ${className} extends Migration {\n  override up(): void {\n${body}\n  }\n}\n`,
    );
    const indexPath = path.join(migrationsDir, 'index.ts');
    const files = [...existing, file].sort();
    // Rebuild the index from the files so the order is the file order.
    const imports: string[] = [];
    const list: string[] = [];
    for (const migrationFile of files) {
      const source = await readFile(path.join(migrationsDir, migrationFile), 'utf8');
      const match = /export class (\w+)/.exec(source);
      if (!match?.[1]) throw new Error(`No migration class in ${migrationFile}`);
      const stem = migrationFile.replace(/\.ts$/, '');
      imports.push(`import { ${match[1]} } from './${stem}.js';`);
      list.push(`  { name: '${stem}', class: ${match[1]} },`);
    }
    await writeFile(
      indexPath,
      `import type { MigrationObject } from '@mikro-orm/core';\n${imports.join('\n')}\n\n/** Committed migrations, in order. \`npm run migration:create\` appends to this list. */\nexport const migrations: MigrationObject[] = [\n${list.join('\n')}\n];\n`,
    );
    console.log(`Wrote ${file}:\n${sql}`);
  }
} finally {
  await database.close();
  await pglite.close();
}
