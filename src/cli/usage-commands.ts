import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { type ClientOptions, managementClient } from './client.ts';
import { withCommon } from './data-commands.ts';
import { environmentOption } from './environment-option.ts';
import { setsFields, typedFields } from './option-fields.ts';
import { printJson, printTable, reportFailure } from './output.ts';

interface UsageOptions extends ClientOptions {
  json?: boolean;
  key?: string;
  endpoint?: string;
  env?: string;
  status?: string;
  from?: string;
  to?: string;
  groupBy?: string;
}

interface UsageData {
  rows: Array<Record<string, unknown>>;
  totals: { count: number; rate_limited: number };
  group_by: string[];
}

/** `gatehouse usage`: request counts from `GET /admin/v1/usage`. */
export function registerUsageCommands(program: Command, config: Config): void {
  setsFields(
    withCommon(
      program.command('usage').description('requests per key, endpoint, environment, status and day'),
    ),
    // --status is a class (4xx) or an exact status (429): both fields are the one option.
    { key_id: '--key', environment: '--env', status_class: '--status', status: '--status' },
  )
    .option('--key <id>', 'only this API key (key_…)')
    .option('--endpoint <slug>', 'only this endpoint')
    .addOption(environmentOption('only test or live'))
    .option('--status <status>', 'only this status class (2xx, 4xx, …) or status (429, …)')
    .option('--from <day>', 'first day, YYYY-MM-DD (UTC; default 29 days before --to)')
    .option('--to <day>', 'last day, YYYY-MM-DD (UTC; default today)')
    .option('--group-by <dimensions>', 'comma-separated: day,key_id,endpoint,environment,status_class,status')
    .action(async (options: UsageOptions, command: Command) => {
      try {
        const query = new URLSearchParams();
        const add = (name: string, value: string | undefined) => {
          if (value !== undefined) query.set(name, value);
        };
        add('key_id', options.key);
        add('endpoint', options.endpoint);
        add('environment', options.env);
        // A class (4xx) or an exact status (429); anything else goes to the server as a
        // status, which names what it takes.
        add(/^\dxx$/i.test(options.status ?? '') ? 'status_class' : 'status', options.status?.toLowerCase());
        add('from', options.from);
        add('to', options.to);
        add('group_by', options.groupBy);
        const call = managementClient(config, options);
        const suffix = query.size > 0 ? `?${query}` : '';
        const data = await call<UsageData>('GET', `/admin/v1/usage${suffix}`);
        if (options.json) {
          printJson({ success: true, data });
          return;
        }
        printTable(data.rows, [...data.group_by, 'count', 'rate_limited']);
        const { count, rate_limited: refused } = data.totals;
        process.stdout.write(
          `\nTotal: ${count} request${count === 1 ? '' : 's'}, ${refused} refused by limits\n`,
        );
      } catch (error) {
        reportFailure(error, options.json === true, typedFields(command));
      }
    });
}
