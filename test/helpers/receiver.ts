import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface Received {
  /** The request target: path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  /** As sent: names and values in turn (a header named `__proto__` is only here). */
  rawHeaders: string[];
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Decides each answer: status (and optional headers, and a delay before it); default 200 at once. */
  respond: (
    received: Received,
    index: number,
  ) => { status: number; headers?: Record<string, string>; delayMs?: number };
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A receiver on 127.0.0.1 whose answers `answer` gives, at once or later (it may hold them). */
export async function hookReceiver(answer: (res: ServerResponse, body: string) => void) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => answer(res, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A real webhook receiver on 127.0.0.1 and a random port. */
export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    received: [],
    respond: () => ({ status: 200 }),
    async waitFor(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (receiver.received.length < count) {
        if (Date.now() > deadline) {
          throw new Error(
            `receiver got ${receiver.received.length} of ${count} deliveries in ${timeoutMs} ms`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return receiver.received;
    },
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString(),
        at: Date.now(),
      };
      const index = receiver.received.length;
      receiver.received.push(entry);
      const answer = receiver.respond(entry, index);
      const send = () => {
        res.writeHead(answer.status, answer.headers);
        res.end('ok');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  receiver.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** Whether `delivery` verifies with the Standard Webhooks `secret` (the `standardwebhooks` library). */
export function signedWith(
  secret: string,
  delivery: { body: string; headers: Record<string, string> },
): boolean {
  try {
    new Webhook(secret).verify(delivery.body, delivery.headers);
    return true;
  } catch {
    return false;
  }
}
