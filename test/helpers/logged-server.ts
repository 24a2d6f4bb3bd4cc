import { buildApp, createServices, type Services } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestDatabase, type DatabaseKind } from './database.ts';
import { capturedLogger, type LogLine } from './log-lines.ts';

export interface LoggedServer {
  url: string;
  services: Services;
  /** What the server logged at the level asked for, parsed. */
  lines: LogLine[];
  /** Stops the server and its services and drops the database. */
  close(): Promise<void>;
}

/** A server on a new `kind` database, listening on 127.0.0.1, whose log lines at `level` are kept. */
export async function startLoggedServer(kind: DatabaseKind, level: string): Promise<LoggedServer> {
  const { logger, lines } = capturedLogger(level);
  const database = await createTestDatabase(kind);
  const services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
  const app = buildApp(services, { logger });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    services,
    lines,
    async close() {
      await app.close();
      await services.close();
      await database.drop();
    },
  };
}
