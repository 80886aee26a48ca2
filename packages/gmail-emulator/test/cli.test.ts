import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startPushEndpoint } from './pushEndpoint.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe.skipIf(!existsSync(cli))('syncjob-gmail-emulator CLI (needs a build: dist/cli.js)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('prints its URL, serves Gmail and stops cleanly on SIGTERM', async () => {
    child = spawn(
      process.execPath,
      [
        cli,
        ...['--port', '0', '--messages', '300', '--seed', '3', '--speed', '10'],
        ...['--project-units-per-minute', '1200000', '--project-daily-units', '80000000'],
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
    });
    const token = (await (
      await fetch(`${url}/_emulator/users/me@example.com/tokens`, { method: 'POST' })
    ).json()) as { access_token: string };
    const profile = await fetch(`${url}/gmail/v1/users/me/profile`, {
      headers: { authorization: `Bearer ${token.access_token}` },
    });
    expect(await profile.json()).toMatchObject({ emailAddress: 'me@example.com', messagesTotal: 300 });
    const config = (await (await fetch(`${url}/_emulator/config`)).json()) as {
      speed: number;
      windowMs: number;
      project: unknown;
    };
    expect(config).toMatchObject({
      speed: 10,
      windowMs: 6000,
      project: { unitsPerMinute: 1_200_000, dailyUnits: 80_000_000 },
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('pushes changes of a watched mailbox to --push-endpoint, signed for --push-audience', async () => {
    const endpoint = await startPushEndpoint();
    try {
      child = spawn(
        process.execPath,
        [
          cli,
          '--port',
          '0',
          '--messages',
          '10',
          '--push-endpoint',
          endpoint.url,
          '--push-audience',
          'app-aud',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const url = await listeningUrl(child);
      const token = (await (
        await fetch(`${url}/_emulator/users/me@example.com/tokens`, { method: 'POST' })
      ).json()) as { access_token: string };
      const watch = await fetch(`${url}/gmail/v1/users/me/watch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ topicName: 'projects/p/topics/t' }),
      });
      expect(watch.status).toBe(200);
      await fetch(`${url}/_emulator/users/me@example.com/messages`, { method: 'POST', body: '{}' });
      while (endpoint.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      const claims = JSON.parse(
        Buffer.from(endpoint.received[0]!.authorization!.split('.')[1]!, 'base64url').toString(),
      );
      expect(claims).toMatchObject({ aud: 'app-aud', iss: 'https://accounts.google.com' });
      expect(endpoint.received[0]!.data.emailAddress).toBe('me@example.com');
    } finally {
      await endpoint.close();
    }
  });
});

function listeningUrl(process: ChildProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    process.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    process.once('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
  });
}
