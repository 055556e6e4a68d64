import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/** One real answer: what the collector sent for an operation of the OpenAPI document. */
export interface Answer {
  /** The operation as documented: lower-case method and path template, e.g. `get /v1/profiles/{id}`. */
  operation: string;
  status: number;
  /** Content-Type header, or null. */
  contentType: string | null;
  headers: Headers;
  /** The body as text; null when it was not read (an endless stream). */
  body: string | null;
}

interface MediaType {
  schema?: object;
}
interface Response {
  content?: Record<string, MediaType>;
  headers?: Record<string, { required?: boolean; schema: object }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, Response> }>>;
  components: { schemas: Record<string, unknown> };
}

/** RFC 3339 date-time, as `new Date().toISOString()` writes it (ajv knows no formats by itself). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Validates real answers against an OpenAPI 3.1 document: the status must be documented for the
 * operation, the Content-Type one of its media types (or none when it documents no content), the
 * body valid against that media type's schema (JSON Schema 2020-12, strict: an unknown keyword in
 * the document is an error too), and required headers present and valid.
 */
export function openApiAnswers(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, strictTypes: false, allErrors: true });
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)),
  });
  ajv.addKeyword({ keyword: 'components' });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (schema: object): ValidateFunction => {
    // Response schemas refer to the components by `#/…`: from outside, that is the `doc` schema.
    const text = JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/');
    let v = compiled.get(text);
    if (!v) {
      v = ajv.compile(JSON.parse(text));
      compiled.set(text, v);
    }
    return v;
  };
  const errors = (v: ValidateFunction) => ajv.errorsText(v.errors, { separator: '; ' });

  const response = (operation: string, status: number): Response | undefined => {
    const [method, path] = operation.split(' ') as [string, string];
    return doc.paths[path]?.[method]?.responses[String(status)];
  };

  return {
    /** Compiles every schema of the document (a typo in one fails here, not when an answer reaches it). */
    compileAll(): void {
      for (const name of Object.keys(doc.components.schemas)) validator({ $ref: `#/components/schemas/${name}` });
      for (const ops of Object.values(doc.paths))
        for (const op of Object.values(ops))
          for (const r of Object.values(op.responses)) {
            for (const m of Object.values(r.content ?? {})) if (m.schema) validator(m.schema);
            for (const h of Object.values(r.headers ?? {})) validator(h.schema);
          }
    },

    /** What is wrong with `answer` by the document; empty when it is true to it. */
    problems(answer: Answer): string[] {
      const documented = response(answer.operation, answer.status);
      if (!documented) return [`${answer.operation}: status ${answer.status} is not documented`];
      const out: string[] = [];
      for (const [name, header] of Object.entries(documented.headers ?? {})) {
        const value = answer.headers.get(name);
        if (value === null) {
          if (header.required) out.push(`header ${name} missing`);
          continue;
        }
        const typed = (header.schema as { type?: string }).type === 'integer' ? Number(value) : value;
        const v = validator(header.schema);
        if (!v(typed)) out.push(`header ${name}: ${value}: ${errors(v)}`);
      }
      const content = documented.content;
      if (!content) {
        if (answer.body) out.push(`a body (${answer.contentType}) where the document gives none`);
        return out;
      }
      const mediaType = answer.contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
      const media = content[mediaType];
      if (!media)
        return [...out, `Content-Type ${answer.contentType} is not one of ${Object.keys(content).join(', ')}`];
      if (answer.body === null || !media.schema) return out;
      let value: unknown = answer.body;
      if (mediaType === 'application/json') {
        try {
          value = JSON.parse(answer.body);
        } catch (err) {
          return [...out, `the body is not JSON: ${(err as Error).message}`];
        }
      }
      const v = validator(media.schema);
      if (!v(value)) out.push(`body: ${errors(v)}: ${answer.body.slice(0, 300)}`);
      return out;
    },
  };
}
