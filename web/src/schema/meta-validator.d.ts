declare module 'virtual:json-schema-meta-validator' {
  interface MetaError {
    instancePath: string;
    schemaPath: string;
    keyword: string;
    message?: string;
    data?: unknown;
  }
  export function validate(schema: unknown): boolean;
  export namespace validate {
    let errors: MetaError[] | null | undefined;
  }
}
