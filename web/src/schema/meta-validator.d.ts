declare module 'virtual:json-schema-meta-validator' {
  interface MetaError {
    instancePath: string;
    keyword: string;
    message?: string;
  }
  export function validate(schema: unknown): boolean;
  export namespace validate {
    let errors: MetaError[] | null | undefined;
  }
}
