/** Regenerates docs/permissions.md from the permission matrix (src/access/permissions.ts). Usage: npm run docs:permissions */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderPermissionsMarkdown } from '../src/access/permissions.js';

const target = path.resolve(import.meta.dirname, '../docs/permissions.md');
await writeFile(target, renderPermissionsMarkdown());
console.log(`Wrote ${path.relative(process.cwd(), target)}`);
