import { resolve } from 'node:path';
import { type Collector, createCollector } from './app.js';
import { optionsFromEnv, resolveOptions } from './options.js';

/**
 * Starts the collector as a process: listens, prints generated keys once, and on SIGTERM/SIGINT
 * drains in-flight requests and commits before exiting.
 */
export async function startCollector(env: NodeJS.ProcessEnv): Promise<Collector> {
  const options = resolveOptions(optionsFromEnv(env));
  const collector = await createCollector(options);
  const address = await collector.app.listen({ port: options.port, host: options.host });
  const port = (collector.app.server.address() as { port: number }).port;
  const base = `http://localhost:${port}`;
  const { keys } = collector;
  if (keys.generated.writeKey || keys.generated.adminKey) {
    // Printed once, on the start that generated them; later starts read them from the database.
    process.stdout.write(
      [
        '',
        `Kimlik collector on ${base} (database ${resolve(options.database)})`,
        keys.generated.writeKey ? `  write key (public, for SDKs): ${keys.writeKey}` : '',
        keys.generated.adminKey ? `  admin key (secret):           ${keys.adminKey}` : '',
        '',
        'Send your first event:',
        `  curl -u '${keys.writeKey}:' ${base}/v1/track -H 'Content-Type: application/json' \\`,
        `    -d '{"userId":"user-1","event":"Signed Up","properties":{"plan":"pro"}}'`,
        'See it stored:',
        `  curl -H 'Authorization: Bearer ${keys.adminKey}' ${base}/v1/events`,
        `Dashboard (sign in with the admin key): ${base}/ui`,
        // With KIMLIK_DEMO=false / is a 404: no link to it.
        options.demo ? `Demo page: ${base}/` : '',
        '',
      ]
        .filter((l, i, a) => l !== '' || a[i - 1] !== '')
        .join('\n'),
    );
  }
  collector.app.log.info({ address, store: collector.store.kind }, 'kimlik collector listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    collector.app.log.info({ signal }, 'draining and closing');
    collector.close().then(
      () => process.exit(0),
      (err: Error) => {
        collector.app.log.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return collector;
}
