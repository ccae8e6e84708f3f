/**
 * Writes the README's configuration table from CONFIG_VARIABLES (the one list the
 * hub reads), between the markers. Usage: npm run docs:config
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configurationTable } from '../src/platform/config-table.js';

const readmePath = path.resolve(import.meta.dirname, '../README.md');
const readme = await readFile(readmePath, 'utf8');
const start = '<!-- config-table:start -->';
const end = '<!-- config-table:end -->';
const before = readme.slice(0, readme.indexOf(start) + start.length);
const after = readme.slice(readme.indexOf(end));
await writeFile(readmePath, `${before}\n${configurationTable()}\n${after}`);
console.log('README.md configuration table updated');
