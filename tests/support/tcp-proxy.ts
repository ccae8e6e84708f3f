import net from 'node:net';

/**
 * A TCP relay in front of a real service, so a test can cut the service off (as a
 * network fault or a crashed server would) and restore it, without touching the
 * service every other test file shares.
 */
export interface TcpProxy {
  port: number;
  /** Drop every relayed connection and refuse new ones. */
  cut(): Promise<void>;
  /** Accept connections again. */
  restore(): Promise<void>;
  /** Stop relaying on the connections open now, keeping them open (a half-open link, a hung peer); new ones relay. */
  stall(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;

  const listen = async (): Promise<void> => {
    server = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject);
      listening.listen(port, '127.0.0.1', () => resolve());
    });
    port = (listening.address() as net.AddressInfo).port;
  };
  const stop = async (): Promise<void> => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    restore: listen,
    stall() {
      for (const socket of sockets) socket.pause();
    },
    close: stop,
  };
}
