import type { Command } from 'commander';

/**
 * Which option of a command sets which API field, so that a refused value is named by the option
 * the user typed (`--target (url): …`), not by a field of a request they never wrote.
 */

/** API field (or the top of a nested one: `limits.per_minute`, `schema`) → the options that set it. */
type FieldOptions = Record<string, string[]>;

const declared = new WeakMap<Command, FieldOptions>();

/** The options whose API field has another name than the option's own (`--target` sets `url`). */
export function setsFields<C extends Command>(command: C, fields: Record<string, string | string[]>): C {
  const all = { ...declared.get(command) };
  for (const [field, flags] of Object.entries(fields))
    all[field] = typeof flags === 'string' ? [flags] : flags;
  declared.set(command, all);
  return command;
}

/** Options every management command has, for the CLI itself: none of them is a field of a request. */
const OWN = new Set(['--json', '--url', '--token', '--yes']);

/**
 * Field → the option the user typed for it, for this run of the command: declared ones, and an
 * option named as its field (`--max-body-bytes` sets `max_body_bytes`). An option left at its
 * default was not typed, so its field keeps its own name.
 */
export function typedFields(command: Command): Record<string, string> {
  const typed = new Set(
    command.options
      .filter((o) => o.long && !OWN.has(o.long) && command.getOptionValueSource(o.attributeName()) === 'cli')
      .map((o) => o.long as string),
  );
  const byField: Record<string, string> = {};
  const renamed = declared.get(command) ?? {};
  const claimed = new Set(Object.values(renamed).flat());
  for (const flag of typed) if (!claimed.has(flag)) byField[ownField(flag)] = flag;
  for (const [field, flags] of Object.entries(renamed)) {
    const flag = flags.find((f) => typed.has(f));
    if (flag) byField[field] = flag;
  }
  return byField;
}

function ownField(flag: string): string {
  return flag.slice(2).replaceAll('-', '_');
}

/**
 * How a refused field reads: `--name` when the option is named as the field, `--target (url)` or
 * `--schema (schema.properties.id.type)` when not, the field alone when no typed option set it.
 */
export function fieldLabel(field: string, byField: Record<string, string>): string {
  let best: string | undefined;
  for (const top of Object.keys(byField)) {
    const within = field === top || field.startsWith(`${top}.`) || field.startsWith(`${top}[`);
    if (within && (best === undefined || top.length > best.length)) best = top;
  }
  const flag = best === undefined ? undefined : byField[best];
  if (flag === undefined) return field;
  return ownField(flag) === field ? flag : `${flag} (${field})`;
}

/** A field quoted in a refusal's message (`to`) reads as the option the user typed for it (--to). */
export function optionsInMessage(message: string, byField: Record<string, string>): string {
  return message.replace(/`([a-z_]+)`/g, (quoted, field: string) =>
    byField[field] === undefined ? quoted : fieldLabel(field, byField),
  );
}
