import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createTokenVault, decryptSecret, encryptSecret } from './tokenVault.ts';

const key = Buffer.alloc(32, 7);
const otherKey = Buffer.alloc(32, 8);
const token = '1//0refresh-token-of-someone';

describe('encryptSecret / decryptSecret (AES-256-GCM)', () => {
  it('round-trips, and never writes the plaintext', () => {
    const sealed = encryptSecret(key, token, 'a@example.com');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('refresh');
    expect(decryptSecret(key, sealed, 'a@example.com')).toBe(token);
  });

  it('refuses a truncated tag (GCM would otherwise accept 4 to 15 bytes)', () => {
    const sealed = encryptSecret(key, token, 'a@example.com');
    const parts = sealed.split('.');
    const tag = Buffer.from(parts[2]!, 'base64url');
    expect(tag).toHaveLength(16);
    for (const length of [4, 8, 12, 15]) {
      parts[2] = tag.subarray(0, length).toString('base64url');
      expect(() => decryptSecret(key, parts.join('.'), 'a@example.com'), `${length}-byte tag`).toThrow();
    }
  });

  it('uses a fresh IV each time', () => {
    expect(encryptSecret(key, token)).not.toBe(encryptSecret(key, token));
  });

  it('refuses a wrong key, a wrong account and an edited value', () => {
    const sealed = encryptSecret(key, token, 'a@example.com');
    expect(() => decryptSecret(otherKey, sealed, 'a@example.com')).toThrow();
    expect(() => decryptSecret(key, sealed, 'b@example.com')).toThrow();
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    parts[3] = body.toString('base64url');
    expect(() => decryptSecret(key, parts.join('.'), 'a@example.com')).toThrow();
    expect(() => decryptSecret(key, 'not-a-token')).toThrow(/Not an encrypted token/);
  });

  it('needs a 32-byte key', () => {
    expect(() => encryptSecret(Buffer.alloc(16), token)).toThrow(RangeError);
  });
});

describe('createTokenVault', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps only ciphertext on disk and reads it back, also from a new instance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vault-'));
    dirs.push(dir);
    const path = join(dir, 'nested', 'tokens.json');
    const vault = createTokenVault({ key, path });
    expect(await vault.get('a@example.com')).toBeNull();
    await Promise.all([vault.set('a@example.com', token), vault.set('b@example.com', 'other')]);
    expect(readFileSync(path, 'utf8')).not.toContain(token);
    const reopened = createTokenVault({ key, path });
    expect(await reopened.get('a@example.com')).toBe(token);
    expect(await reopened.get('b@example.com')).toBe('other');
    await expect(createTokenVault({ key: otherKey, path }).get('a@example.com')).rejects.toThrow();
  });
});
