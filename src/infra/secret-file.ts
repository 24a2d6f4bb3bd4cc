/**
 * The file beside a SQLite database that holds its generated installation secret. On its own so
 * that the CLI's backup commands name it without loading the secret's machinery (Kysely, crypto).
 */
export function secretFileOf(sqlitePath: string): string {
  return `${sqlitePath}.secret`;
}
