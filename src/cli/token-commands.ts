import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { ManagementTokenJson } from '../accounts/owner-service.ts';
import type { Config } from '../config.ts';
import { managementClient } from './client.ts';
import { confirmFound, withYes } from './confirm.ts';
import { action, show, usage, withCommon } from './data-commands.ts';
import { typedFields } from './option-fields.ts';
import { CliFailure, printFields, printTable, reportFailure } from './output.ts';
import { pathSegment } from './path-segment.ts';
import { readHidden, saveCredentials, savedWhere } from './server-commands.ts';

type Common = { json?: boolean };

/** `gatehouse tokens …` (your management tokens) and `gatehouse login` (a new one, by password). */
export function registerTokenCommands(program: Command, config: Config): void {
  const tokens = program
    .command('tokens')
    .description('your management tokens (what the CLI and scripts use): list, create, revoke');

  withCommon(
    tokens
      .command('list')
      .description('your tokens, oldest first, with when each was last used (never their secrets)'),
  ).action(
    action(config, async (call, o: Common) => {
      const data = await call<ManagementTokenJson[]>('GET', '/admin/v1/tokens');
      show(o.json, data, () =>
        printTable(
          data.map((t) => ({
            ...t,
            last_used_at: t.last_used_at ?? 'never',
            current: t.current ? 'yes (this CLI)' : '',
          })),
          ['id', 'name', 'created_at', 'last_used_at', 'current'],
        ),
      );
    }),
  );

  withCommon(tokens.command('create').description('a new token; its secret is shown once'))
    .requiredOption('--name <name>', 'what it is for (a machine, a script)')
    .action(
      action(config, async (call, o: Common & { name: string }) => {
        const data = await call<ManagementTokenJson & { token: string }>('POST', '/admin/v1/tokens', {
          name: o.name,
        });
        show(o.json, data, () => {
          printFields({ id: data.id, name: data.name, token: data.token });
          process.stdout.write('\nCopy the token now: it is shown only once. Use it as GATEHOUSE_TOKEN.\n');
        });
      }),
    );

  withYes(
    withCommon(tokens.command('revoke').argument('<id>').description('revoke one of your tokens')),
  ).action(
    action(config, async (call, id: string, o: Common & { yes?: boolean }) => {
      await confirmFound(
        o,
        async () => {
          // No GET for one token: the list (a user holds few) stands in, and its absence reads as
          // the server's own 404 for the revoke.
          const mine = await call<ManagementTokenJson[]>('GET', '/admin/v1/tokens');
          const token = mine.find((t) => t.id === id);
          if (token) return token;
          throw new CliFailure({
            success: false,
            error: `No management token ${id} of yours`,
            code: 'not_found',
          });
        },
        (token) =>
          `This revokes management token ${id} (${token.name}${token.current ? ', the one this CLI uses' : ''}) for good: whatever uses it is refused.`,
      );
      const data = await call<ManagementTokenJson>('DELETE', `/admin/v1/tokens/${pathSegment(id, 'token')}`);
      show(o.json, data, () =>
        process.stdout.write(
          `Revoked token ${data.id} (${data.name})${data.current ? ': it was this CLI’s own; "gatehouse login" gets a new one' : ''}\n`,
        ),
      );
    }),
  );

  program
    .command('login')
    .description('sign in with your email and password; saves a new management token for the CLI')
    .requiredOption('--email <email>', 'your dashboard email')
    .option('--password <password>', 'asked for when omitted in a terminal')
    .option('--name <name>', 'the new token’s name', `cli on ${hostname()}`)
    .option('--json', 'print JSON')
    .option('--url <url>', 'Gatehouse base URL (as for every command)')
    .action(
      async (
        o: { email: string; password?: string; name: string; json?: boolean; url?: string },
        command: Command,
      ) => {
        try {
          let password = o.password;
          if (password === undefined) {
            if (!process.stdin.isTTY)
              throw usage('--password is required when not run in a terminal (in one, it is asked for)');
            password = await readHidden('Password: ');
          }
          const anonymous = managementClient(config, { url: o.url, session: 'none' });
          const signedIn = await anonymous<Response>(
            'POST',
            '/admin/v1/session',
            { email: o.email, password },
            true,
          );
          const cookie = signedIn.headers.getSetCookie()[0]?.split(';')[0];
          const { data } = (await signedIn.json()) as { data: { csrf_token: string } };
          if (!cookie) {
            throw new CliFailure({
              success: false,
              error: 'Signed in, but no session came back',
              code: 'cli_bad_response',
            });
          }
          const asUser = managementClient(config, { url: o.url, session: { cookie, csrf: data.csrf_token } });
          // The session was only the way to the token: it ends whether or not the token was made
          // (a refused --name would otherwise leave it open on the server for hours).
          const token = await asUser<ManagementTokenJson & { token: string }>('POST', '/admin/v1/tokens', {
            name: o.name,
          }).finally(() => asUser('DELETE', '/admin/v1/session').catch(() => {}));
          saveCredentials(config, token.token, asUser.base);
          const saved = savedWhere(config);
          show(
            o.json,
            { id: token.id, name: token.name, url: asUser.base, cli_credentials: saved.path },
            () =>
              process.stdout.write(
                `Signed in. The CLI saved a new management token (${token.id}, "${token.name}") for ${asUser.base} in ${saved.path}: ${saved.hint}.\n`,
              ),
          );
        } catch (error) {
          reportFailure(error, o.json === true, typedFields(command));
        }
      },
    );
}
