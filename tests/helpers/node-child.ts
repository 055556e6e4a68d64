import { spawn } from 'node:child_process';

/** Runs `node ...args` to its end: how long it lived, its exit code and what it wrote to stderr. */
export async function runNode(args: string[]): Promise<{ ms: number; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { ms: Date.now() - started, code, stderr };
}

/**
 * Runs `script`, an ES module body with `Kimlik` imported from the built Node SDK, in a child
 * process: what keeps a process alive, and what it prints, can only be seen from outside.
 */
export function runWithSdk(script: string): Promise<{ ms: number; code: number | null; stderr: string }> {
  const sdk = new URL('../../sdk-node/dist/index.js', import.meta.url).href;
  return runNode(['--input-type=module', '-e', `import { Kimlik } from '${sdk}';\n${script}`]);
}
