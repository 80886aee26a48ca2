import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PythonBackend,
  pythonAvailable,
  startPythonBackend,
} from '../../../examples/python-backend/startPythonBackend';
import { runCli } from './childProcess';

const available = pythonAvailable();
if (!available)
  console.warn('check-server against the Python reference backend SKIPPED: no python3 on PATH.');

describe.skipIf(!available)('syncjob check-server against the Python reference backend', () => {
  let backend: PythonBackend;
  beforeAll(async () => {
    // A 1 s keep-alive so the stream check does not wait 15 s; a token to exercise --header.
    backend = await startPythonBackend(['--keepalive', '1', '--step', '0.25', '--token', 'secret']);
  });
  afterAll(() => backend?.stop());

  it('passes every check', async () => {
    const { code, stdout, stderr } = await runCli([
      'check-server',
      `${backend.origin}/api/sync`,
      '--header',
      'Authorization: Bearer secret',
      '--keepalive-timeout',
      '3s',
    ]);
    expect(stdout, stderr).toMatch(/All \d+ checks passed\./);
    expect(stdout).not.toContain('FAIL');
    expect(code).toBe(0);
  });

  it('fails (exit 1) without the credentials, with a table that says why', async () => {
    const { code, stdout } = await runCli([
      'check-server',
      `${backend.origin}/api/sync`,
      '--job-timeout',
      '5s',
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/start: POST \/jobs .*FAIL.*expected 202, got 401 UNAUTHENTICATED/);
  });

  it('--help says what the server needs', async () => {
    const { code, stdout } = await runCli(['check-server', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('must complete a job within');
  });
});
