import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { io as connectClient } from 'socket.io-client';
import type { Socket as ClientSocket } from 'socket.io-client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRealtime } from '../../src/platform/realtime.js';
import type { Realtime } from '../../src/platform/realtime.js';
import { assertServiceAvailable, redisStatus, redisUrlForTests, shouldSkip } from '../support/services.js';

const redisUrl = redisUrlForTests();
const redis = await redisStatus(redisUrl);

const servers: HttpServer[] = [];
const realtimes: Realtime[] = [];
const clients: ClientSocket[] = [];

async function startNode(options: { redisUrl?: string } = {}): Promise<{ realtime: Realtime; url: string }> {
  const server = createServer();
  servers.push(server);
  const realtime = await createRealtime({ server, ...options });
  realtimes.push(realtime);
  // Rooms live on the node the socket is connected to; the client asks to join and waits for the ack.
  realtime.io.of('/test').on('connection', (socket) => {
    socket.on('join', (room: string, ack: () => void) => {
      void socket.join(room);
      ack();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { realtime, url: `http://127.0.0.1:${port}` };
}

async function connectAndJoin(baseUrl: string, room: string): Promise<ClientSocket> {
  const client = connectClient(`${baseUrl}/test`, { transports: ['websocket'], reconnection: false, forceNew: true });
  clients.push(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('connect_error', reject);
  });
  await client.timeout(2000).emitWithAck('join', room);
  return client;
}

function nextEvent<T>(client: ClientSocket, event: string, timeoutMs = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" within ${timeoutMs} ms`)), timeoutMs);
    client.once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await Promise.all(realtimes.splice(0).map((realtime) => realtime.close()));
  // close() leaves the HTTP server to its owner, as fastify's app.server would be.
  await Promise.all(
    servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
});

describe('realtime (single node)', () => {
  it('delivers a room broadcast to a client in that room', async () => {
    const { realtime, url } = await startNode();
    const client = await connectAndJoin(url, 'dossier-1');

    const received = nextEvent<{ id: string }>(client, 'dossier.updated');
    realtime.io.of('/test').to('dossier-1').emit('dossier.updated', { id: 'EP1' });

    expect(await received).toEqual({ id: 'EP1' });
    expect('ping' in realtime).toBe(false);
  });

  it('close() disconnects clients without closing the HTTP server', async () => {
    const { realtime, url } = await startNode();
    const client = await connectAndJoin(url, 'lobby');
    const disconnected = nextEvent<string>(client, 'disconnect');

    await realtime.close();

    // "transport close": the client would reconnect (to another node) rather than give up.
    expect(await disconnected).toBe('transport close');
    expect(servers[0]?.listening).toBe(true);
  });
});

describe.skipIf(shouldSkip(redis))('realtime across nodes (Redis adapter)', () => {
  beforeAll(() => {
    assertServiceAvailable(redis);
  });

  it('delivers an event emitted on node B to a client connected to node A', async () => {
    const nodeA = await startNode({ redisUrl });
    const nodeB = await startNode({ redisUrl });
    const room = `room-${randomUUID()}`;
    const client = await connectAndJoin(nodeA.url, room);

    const received = nextEvent<{ from: string }>(client, 'hello');
    nodeB.realtime.io.of('/test').to(room).emit('hello', { from: 'B' });

    expect(await received).toEqual({ from: 'B' });
    await expect(nodeA.realtime.ping?.()).resolves.toBeUndefined();
  });
});
