import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const META_VALIDATOR = 'virtual:json-schema-meta-validator';

/**
 * The dashboard runs under a CSP without 'unsafe-eval', so Ajv cannot compile in the browser.
 * The JSON Schema 2020-12 meta-schema validator is compiled here, at build time, to plain code.
 */
function metaSchemaValidator(): Plugin {
  const resolved = `\0${META_VALIDATOR}`;
  return {
    name: 'gatehouse-json-schema-meta-validator',
    resolveId: (id) => (id === META_VALIDATOR ? resolved : undefined),
    load(id) {
      if (id !== resolved) return undefined;
      const Ajv2020 = require('ajv/dist/2020').default;
      const standalone = require('ajv/dist/standalone').default;
      const ajv = new Ajv2020({ code: { source: true, esm: true }, allErrors: true, strict: false, verbose: true });
      const code: string = standalone(ajv, ajv.getSchema('https://json-schema.org/draft/2020-12/schema'));
      let n = 0;
      const imports: string[] = [];
      const body = code.replace(/require\("([^"]+)"\)/g, (_m, path: string) => {
        const name = `__dep${n++}`;
        // require() gives the CommonJS exports object: the code reads `.default` from it (Ajv's
        // `equal`, for uniqueItems). The namespace has that `default` when the bundler honours
        // `__esModule`; otherwise its `default` is the exports object.
        imports.push(
          `import * as ${name}_ns from ${JSON.stringify(path)}; const ${name} = typeof ${name}_ns.default === 'object' && ${name}_ns.default !== null && 'default' in ${name}_ns.default ? ${name}_ns.default : ${name}_ns;`,
        );
        return name;
      });
      return `${imports.join('\n')}\n${body}`;
    },
  };
}

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react(), metaSchemaValidator()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
});
