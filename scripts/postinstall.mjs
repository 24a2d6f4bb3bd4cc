// npm's postinstall: builds the dashboard (web/dist) and the typed client (packages/client/dist).
// Both builds need dev dependencies (Vite, TypeScript). Installed without them (`npm ci
// --omit=dev`, or NODE_ENV=production), the install still succeeds and says so: the server runs,
// and its `/` page says the dashboard is not built. docs/DEPLOY.md has the production install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = process.cwd();
const missing = ['vite', 'typescript'].filter(
  (name) => !existsSync(join(root, 'node_modules', name, 'package.json')),
);
if (missing.length > 0) {
  console.warn(
    `gatehouse: not building the dashboard (web/dist) or the typed client: the dev dependencies (${missing.join(', ')}) are not installed. ` +
      'The server runs without them; for the dashboard, install with them (npm ci), then drop them with npm prune --omit=dev.',
  );
  process.exit(0);
}
for (const args of [
  ['run', 'build:web'],
  ['run', 'build', '-w', '@gatehouse/client'],
]) {
  const run = spawnSync('npm', args, { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
