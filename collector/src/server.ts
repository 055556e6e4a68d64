import { type Collector, createCollector } from './app.js';
import { markKeysShown, unshownKeys } from './keys.js';
import { optionsFromEnv, resolveOptions } from './options.js';
import { databaseLabel } from './store/open-store.js';

/**
 * Starts the collector as a process: listens, prints generated keys once, and on SIGTERM/SIGINT
 * drains in-flight requests and commits before exiting.
 */
export async function startCollector(env: NodeJS.ProcessEnv): Promise<Collector> {
  const options = resolveOptions(optionsFromEnv(env));
  const collector = await createCollector(options);
  let address: string;
  try {
    address = await collector.app.listen({ port: options.port, host: options.host });
  } catch (err) {
    // The port is taken, say: the store is open (and may have stored new keys) and must close.
    await collector.close();
    // Named by its settings, its code kept (EADDRINUSE, ENOTFOUND) for callers that branch on it.
    const { message, code } = err as NodeJS.ErrnoException;
    throw Object.assign(new Error(`cannot listen on ${options.host}:${options.port} (HOST, PORT): ${message}`), {
      code,
      cause: err,
    });
  }
  const port = (collector.app.server.address() as { port: number }).port;
  const base = `http://localhost:${port}`;
  const { keys } = collector;
  // Printed once, by the first start that listens; later starts read them from the database.
  const unshown = await unshownKeys(collector.store, options);
  if (unshown.writeKey || unshown.adminKey) {
    process.stdout.write(
      [
        '',
        `Kimlik collector on ${base} (database ${databaseLabel(options.database)})`,
        unshown.writeKey ? `  write key (public, for SDKs): ${keys.writeKey}` : '',
        unshown.adminKey ? `  admin key (secret):           ${keys.adminKey}` : '',
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
    await markKeysShown(collector.store);
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
