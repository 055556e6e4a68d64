// Same static server as the script-tag example (see there for the environment variables).
import { fileURLToPath } from 'node:url';
import { serveExample, serveFromCommandLine } from '../script-tag/serve.mjs';

export { serveExample };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await serveFromCommandLine(fileURLToPath(new URL('.', import.meta.url)), { defaultPort: 8082, label: 'SPA example' });
}
