import { spawn } from 'node:child_process';

/**
 * Runs `script`, an ES module body with `Kimlik` imported from the built Node SDK, in a child
 * process: what keeps a process alive, and what it prints, can only be seen from outside.
 */
export async function runWithSdk(script: string): Promise<{ ms: number; code: number | null; stderr: string }> {
  const sdk = new URL('../../sdk-node/dist/index.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `import { Kimlik } from '${sdk}';\n${script}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { ms: Date.now() - started, code, stderr };
}
