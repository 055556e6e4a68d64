import type { Server } from 'node:http';

/** Serves an example directory, filling in the collector URL, the write key and the snippet. */
export function serveExample(
  dir: string,
  options: { port?: number; host?: string; collectorUrl: string; writeKey: string },
): Promise<{ server: Server; url: string }>;
export declare function serveFromCommandLine(
  dir: string,
  options: { defaultPort: number; label: string },
): Promise<void>;
