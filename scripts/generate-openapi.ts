/** Regenerates openapi/openapi.json from the route schemas. Usage: npm run openapi */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateOpenApiDocument, serialiseOpenApiDocument } from '../src/platform/openapi-document.js';

const target = path.resolve(import.meta.dirname, '../openapi/openapi.json');
await writeFile(target, serialiseOpenApiDocument(await generateOpenApiDocument()));
console.log(`Wrote ${path.relative(process.cwd(), target)}`);
