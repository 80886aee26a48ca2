import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const VERSION = 'v1';
/** GCM's full tag; shorter ones are refused. */
const AUTH_TAG_BYTES = 16;

/**
 * Encrypts a secret with AES-256-GCM: `v1.<iv>.<tag>.<ciphertext>` (base64url). A fresh 12-byte IV
 * per call; the tag makes any edit of the stored value fail to decrypt instead of yielding garbage.
 * `context` (e.g. the account id) is bound as additional data, so a token cannot be moved to
 * another account's entry.
 */
export function encryptSecret(key: Buffer, plaintext: string, context = ''): string {
  if (key.length !== 32) throw new RangeError('AES-256-GCM needs a 32-byte key.');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: AUTH_TAG_BYTES });
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.');
}

/** Decrypts what `encryptSecret` wrote; throws when the key, the context or the value is wrong. */
export function decryptSecret(key: Buffer, sealed: string, context = ''): string {
  const [version, iv, tag, ciphertext, ...rest] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || ciphertext === undefined || rest.length > 0) {
    throw new Error('Not an encrypted token of this app.');
  }
  const authTag = Buffer.from(tag, 'base64url');
  // GCM accepts tags down to 4 bytes unless told the length: a truncated tag is far easier to forge.
  if (authTag.length !== AUTH_TAG_BYTES) throw new Error('Not an encrypted token of this app.');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
    authTagLength: AUTH_TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(authTag);
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString(
    'utf8',
  );
}

/** Refresh tokens by account, encrypted at rest in one JSON file. */
export interface TokenVault {
  get(accountId: string): Promise<string | null>;
  set(accountId: string, refreshToken: string): Promise<void>;
}

/**
 * A file-backed vault: only ciphertext touches the disk, and the file is replaced atomically
 * (write then rename) so a crash never leaves half a file.
 */
export function createTokenVault(options: { key: Buffer; path: string }): TokenVault {
  const load = async (): Promise<Record<string, string>> => {
    try {
      return JSON.parse(await readFile(options.path, 'utf8')) as Record<string, string>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
  };
  let writes = Promise.resolve();
  return {
    async get(accountId) {
      const sealed = (await load())[accountId];
      return sealed ? decryptSecret(options.key, sealed, accountId) : null;
    },
    set(accountId, refreshToken) {
      // Writes are serialised so two callbacks at once cannot drop each other's entry.
      writes = writes.then(async () => {
        const entries = await load();
        entries[accountId] = encryptSecret(options.key, refreshToken, accountId);
        await mkdir(dirname(options.path), { recursive: true });
        const temp = `${options.path}.${process.pid}.tmp`;
        await writeFile(temp, JSON.stringify(entries, null, 2), { mode: 0o600 });
        await rename(temp, options.path);
      });
      return writes;
    },
  };
}
