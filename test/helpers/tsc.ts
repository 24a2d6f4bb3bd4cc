import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The workspace's TypeScript on a project's tsconfig, its diagnostics in the error. */
export const tsc = (tsconfig: string) =>
  run(process.execPath, [join(process.cwd(), 'node_modules/typescript/bin/tsc'), '-p', tsconfig]).catch(
    (e: { stdout?: string }) => {
      throw new Error(`tsc -p ${tsconfig} failed:\n${e.stdout}`);
    },
  );

/** A partner's strict Node project (NodeNext, Node's types from the workspace), with `extra` on top. */
export function nodeProjectOptions(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    types: ['node'],
    typeRoots: [join(process.cwd(), 'node_modules/@types')],
    noEmit: true,
    ...extra,
  };
}
