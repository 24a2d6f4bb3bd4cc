/**
 * The file beside a SQLite database that holds its generated installation secret. On its own so
 * that the CLI's backup commands name it without loading the secret's machinery (Kysely, crypto).
 */
export function secretFileOf(sqlitePath: string): string {
  return `${sqlitePath}.secret`;
}

/**
 * The new secret of a rotation under way (`gatehouse secret rotate`): written before the stored
 * secrets are sealed with it, put in place of the secret file once they are, so that a rotation
 * cut off in between leaves the secret that opens them on disk (the next start finishes it).
 */
export function pendingSecretFileOf(sqlitePath: string): string {
  return `${secretFileOf(sqlitePath)}.new`;
}
