import type { FastifyInstance } from 'fastify';
import { buildApp, createServices } from '../app.ts';
import type { Config } from '../config.ts';
import { createLogger } from '../infra/logger.ts';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** Opens the database, builds the app and listens; `stop` drains in-flight requests, then closes. */
export async function startServer(config: Config): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  const services = await createServices(config);
  const app = buildApp(services, { logger });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await services.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  if (!(await services.owners.hasOwner())) {
    logger.warn(
      `No owner yet: run "npx gatehouse init --email you@example.com --password <password>" to create one`,
    );
  }
  logger.info({ url, database: services.database.dialect.name }, `Gatehouse listening on ${url}`);
  let stopping: Promise<void> | null = null;
  return {
    app,
    url,
    stop() {
      stopping ??= (async () => {
        await app.close();
        await services.close();
        logger.flush();
      })();
      return stopping;
    },
  };
}
