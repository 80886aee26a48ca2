import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The reference server's script. */
export const PYTHON_SERVER = fileURLToPath(new URL('./server.py', import.meta.url));
const PYTHON = 'python3';

/** True when a python3 (3.8+) can run the reference server. */
export const pythonAvailable = (): boolean =>
  spawnSync(PYTHON, ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)']).status === 0;

export interface PythonBackend {
  /** e.g. `http://127.0.0.1:41234` */
  origin: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts `server.py` on a free port (for tests): resolves once it prints its address. */
export function startPythonBackend(args: string[] = []): Promise<PythonBackend> {
  const child = spawn(PYTHON, ['-u', PYTHON_SERVER, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.once('exit', (code) => reject(new Error(`server.py exited with ${code}: ${stderr}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /on http:\/\/([\d.]+):(\d+)/.exec(stdout);
      if (!match) return;
      const port = Number(match[2]);
      resolve({
        origin: `http://${match[1]}:${port}`,
        port,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
