// A loopback port nothing listens on, for tests of "connection refused". Taken below the kernel's
// ephemeral range (ip_local_port_range, 32768-60999 on Linux): a port the OS hands out for `listen(0)`
// and then released could be handed to the next test's relay or hub a moment later, and the
// "closed" port would answer. Nothing in the suite binds a fixed port in this range.
import { connect } from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

export async function closedPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await refused(port)) return port;
  }
  throw new Error(`no closed loopback port found in ${LOW}-${HIGH}`);
}
