// Same static server as the script-tag example (see there for the environment variables).
import { fileURLToPath } from 'node:url';
import { serveExample } from '../script-tag/serve.mjs';

export { serveExample };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const collectorUrl = process.env.KIMLIK_URL ?? 'http://localhost:8080';
  const writeKey = process.env.KIMLIK_WRITE_KEY;
  if (!writeKey) {
    console.error('Set KIMLIK_WRITE_KEY to the write key the collector printed on its first start.');
    process.exit(1);
  }
  const { url } = await serveExample(fileURLToPath(new URL('.', import.meta.url)), {
    port: Number(process.env.PORT ?? 8082),
    collectorUrl,
    writeKey,
  });
  console.log(`SPA example on ${url}, sending to ${collectorUrl}`);
}
