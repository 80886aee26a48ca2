import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PythonBackend,
  pythonAvailable,
  startPythonBackend,
} from '../../../examples/python-backend/startPythonBackend';
import { runCli } from './childProcess';

const available = pythonAvailable();
if (!available) {
  const message = 'check-server against the Python reference backend SKIPPED: no python3 (3.8+) on PATH.';
  if (process.env.SYNCJOB_REQUIRE_PYTHON === '1') throw new Error(message);
  console.warn(message);
}

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

describe('syncjob check-server arguments', () => {
  it('exits 2 without a base URL or with a malformed header', async () => {
    expect((await runCli(['check-server'])).code).toBe(2);
    const { code, stderr } = await runCli(['check-server', 'http://127.0.0.1:9/api', '--header', 'nocolon']);
    expect(code).toBe(2);
    expect(stderr).toContain("--header must be 'Name: value'");
  });
});
