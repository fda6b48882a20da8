// A port nothing listens on at the moment of asking: the system picks it, the probe lets it go. Whoever listens on it
// next may lose it to another process in between, and must handle that as any port in use.
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const probe = createServer();
  probe.listen(0, host);
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}
