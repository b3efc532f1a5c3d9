// Published ports with `--isolation=process`, where there is no netns to DNAT into: a TCP forwarder on
// the host port that hands each connection to a ready pod's sidecar inbound listener, round robin
// (what docker-proxy does for Docker). With netns isolation the same job is done by iptables DNAT.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface PortForwarder {
  /** Replaces the targets (`host:port` of ready sidecars). */
  setTargets(targets: readonly string[]): void;
  close(): Promise<void>;
}

export async function createPortForwarder(o: { hostIp: string; hostPort: number }): Promise<PortForwarder> {
  let targets: readonly string[] = [];
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (targets.length === 0) {
      client.destroy();
      return;
    }
    const target = targets[next++ % targets.length] as string;
    const cut = target.lastIndexOf(':');
    const upstream = connect({ host: target.slice(0, cut), port: Number(target.slice(cut + 1)) });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    // pipe() carries backpressure both ways; an error on either side closes both.
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.hostIp, port: o.hostPort, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    setTargets(t) {
      targets = [...t];
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
