import type { Command } from 'commander';
import type { AppJson, AppVersionJson } from '../apps/app-service.ts';
import { notLiveEndpoints } from '../apps/named-endpoints.ts';
import type { Config } from '../config.ts';
import type { EndpointJson } from '../endpoints/endpoint-service.ts';
import { firstRoundedNumber, roundedNumberMessage } from '../infra/json/exact-json.ts';
import { confirmFound, withYes } from './confirm.ts';
import { action, show, withCommon } from './data-commands.ts';
import { readOptionFile } from './option-file.ts';
import { CliFailure, printFields, printTable } from './output.ts';
import { pathSegment } from './path-segment.ts';

type Common = { json?: boolean };

const appColumns = ['slug', 'name', 'routes', 'draft_revision', 'live_version', 'updated_at'];

/** A definition file: `{"slug","name","routes":[…]}` (JSON). */
function readDefinition(file: string): Record<string, unknown> {
  let parsed: unknown;
  const text = readOptionFile('--file', file);
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliFailure({
      success: false,
      error: `--file ${file}: ${(error as Error).message}`,
      code: 'cli_usage',
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliFailure({
      success: false,
      error: `--file ${file}: must hold a JSON object`,
      code: 'cli_usage',
    });
  }
  // JSON.parse would round it before it is sent: said here, as the server would say it.
  const rounded = firstRoundedNumber(text);
  if (rounded !== undefined) {
    throw new CliFailure({
      success: false,
      error: `--file ${file}: ${roundedNumberMessage(rounded)}`,
      code: 'cli_usage',
    });
  }
  return parsed as Record<string, unknown>;
}

function summary(app: AppJson): Record<string, unknown> {
  return {
    ...app,
    routes: app.routes.map((r) => `${r.method} ${r.path} (${r.auth ?? 'apiKey'})`).join(', '),
  };
}

/** `gatehouse apps list|get|create|update|deploy|versions|delete`: App API definitions. */
export function registerAppsCommands(program: Command, config: Config): void {
  const apps = program.command('apps').description('App APIs: owner-defined routes under /api/v1/apps/{app}');
  const path = (slug: string) => `/admin/v1/apps/${pathSegment(slug, 'app')}`;

  withCommon(apps.command('list').description('list apps')).action(
    action(config, async (call, o: Common) => {
      const data = await call<AppJson[]>('GET', '/admin/v1/apps');
      show(o.json, data, () => printTable(data.map(summary), appColumns));
    }),
  );

  withCommon(
    apps.command('show').alias('get').argument('<slug>').description('show one app and its draft routes'),
  ).action(
    action(config, async (call, slug: string, o: Common) => {
      const data = await call<AppJson>('GET', path(slug));
      show(o.json, data, () => printFields(summary(data)));
    }),
  );

  withCommon(
    apps.command('create').description('create an app from a definition file (the draft serves test)'),
  )
    .requiredOption(
      '--file <path>',
      'JSON definition: {"slug","name","routes":[…]} (see docs/apps.md; - reads stdin)',
    )
    .action(
      action(config, async (call, o: Common & { file: string }) => {
        const data = await call<AppJson>('POST', '/admin/v1/apps', readDefinition(o.file));
        show(o.json, data, () => printFields(summary(data)));
      }),
    );

  withCommon(apps.command('update').argument('<slug>').description("replace the draft's routes and/or name"))
    .requiredOption(
      '--file <path>',
      'JSON: {"name"?, "routes"?} (a "slug" in the file must be <slug>: update does not rename; - reads stdin)',
    )
    .action(
      action(config, async (call, slug: string, o: Common & { file: string }) => {
        const { slug: named, ...body } = readDefinition(o.file);
        // Another app's definition (a file copied, a wrong argument) must not replace this one's routes.
        if (named !== undefined && named !== slug) {
          throw new CliFailure({
            success: false,
            error: `--file ${o.file} is the definition of app ${JSON.stringify(named)}, not of ${JSON.stringify(slug)}: nothing was changed (apps update does not rename an app; update ${JSON.stringify(named)}, or fix or remove the file's "slug")`,
            code: 'cli_usage',
          });
        }
        const data = await call<AppJson>('PATCH', path(slug), body);
        show(o.json, data, () => printFields(summary(data)));
      }),
    );

  withCommon(
    apps.command('deploy').argument('<slug>').description('publish the draft to live as a new version'),
  ).action(
    action(config, async (call, slug: string, o: Common) => {
      const data = await call<AppJson>('POST', `${path(slug)}/deploy`);
      show(o.json, data, () => printFields({ slug: data.slug, live_version: data.live_version }));
      // Deployed, but a live call whose steps reach an endpoint not live is refused: said now.
      const endpoints = await call<EndpointJson[]>('GET', '/admin/v1/endpoints').catch(() => []);
      const idle = notLiveEndpoints(data.routes, endpoints);
      if (idle.length > 0) {
        process.stderr.write(
          `Warning: ${idle.join(', ')} ${idle.length === 1 ? 'is' : 'are'} not live (never deployed, or inactive): ` +
            `live calls whose steps use ${idle.length === 1 ? 'it' : 'them'} answer 403 until then ` +
            `(gatehouse endpoints deploy ${idle[0]}${idle.length > 1 ? ', …' : ''}).\n`,
        );
      }
    }),
  );

  withCommon(
    apps.command('versions').argument('<slug>').description('deployed versions, newest first'),
  ).action(
    action(config, async (call, slug: string, o: Common) => {
      const data = await call<AppVersionJson[]>('GET', `${path(slug)}/versions`);
      show(o.json, data, () =>
        printTable(
          data.map((v) => ({ ...v, routes: v.routes.length })),
          ['version', 'name', 'routes', 'created_at'],
        ),
      );
    }),
  );

  withYes(
    withCommon(apps.command('delete').argument('<slug>').description('delete an app and all its versions')),
  ).action(
    action(config, async (call, slug: string, o: Common & { yes?: boolean }) => {
      await confirmFound(
        o,
        () => call<AppJson>('GET', path(slug)),
        (app) =>
          `This deletes app ${slug} (${app.name}) with its draft and every deployed version, for good: its routes answer 404 from now on.`,
        slug,
      );
      const data = await call<unknown>('DELETE', path(slug));
      show(o.json, data, () => process.stdout.write(`Deleted app ${slug}\n`));
    }),
  );
}
