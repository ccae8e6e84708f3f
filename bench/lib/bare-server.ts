/**
 * The baseline of the browse benchmark: a bare Fastify route serving, from memory, the JSON the hub answered for a
 * dossier list (the file named by argv[2]), in a process of its own like the hub. Prints the port once listening.
 */
import { readFile } from 'node:fs/promises';
import Fastify from 'fastify';

const body: unknown = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8'));
const app = Fastify({ logger: false });
app.get('/list', async () => body);
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
