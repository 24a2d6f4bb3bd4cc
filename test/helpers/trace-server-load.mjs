// Loaded with `node --import`: says on stderr when src/app.ts (the whole server) is loaded.
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(
    "export async function load(url, context, next) { if (url.endsWith('/src/app.ts')) process._rawDebug('gatehouse-test: the server was loaded'); return next(url, context); }",
  )}`,
);
