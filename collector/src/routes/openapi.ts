import type { FastifyInstance } from 'fastify';
import { OPENAPI } from './openapi-document.js';

export function openApiRoutes(app: FastifyInstance): void {
  app.get('/openapi.json', async () => OPENAPI);
}
