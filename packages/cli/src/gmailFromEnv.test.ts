import { describe, expect, it } from 'vitest';
import { CliError } from './cliError';
import { gmailFromEnv, gmailSettings } from './gmailFromEnv';

const REAL = {
  GMAIL_CLIENT_ID: 'real-client.apps.googleusercontent.com',
  GMAIL_CLIENT_SECRET: 'real-client-secret',
  GMAIL_REFRESH_TOKEN: '1//real-refresh-token',
};

function refusal(run: () => unknown): CliError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }
  throw new Error('expected a refusal');
}

describe('gmailFromEnv refuses to send tokens where they do not belong', () => {
  it('refuses a plain-http root URL that is not loopback, with or without real credentials', () => {
    for (const env of [{}, REAL]) {
      for (const url of ['http://gmail.example.com', 'http://10.0.0.5:8085', 'http://localhost.evil.com']) {
        const error = refusal(() => gmailFromEnv({ rootUrl: url, allowCustomRootUrl: true }, env));
        expect(error).toMatchObject({ exitCode: 2, code: 'INSECURE_GMAIL_URL' });
        expect(error.message).toContain('INSECURE_GMAIL_URL');
      }
    }
    expect(refusal(() => gmailFromEnv({ rootUrl: 'ftp://127.0.0.1' }, {})).code).toBe('INVALID_GMAIL_URL');
    expect(refusal(() => gmailFromEnv({ rootUrl: 'not a url' }, {})).code).toBe('INVALID_GMAIL_URL');
  });

  it('accepts an emulator on loopback over http, and https anywhere without real credentials', () => {
    for (const url of [
      'http://localhost:8085',
      'http://127.0.0.1:8085/',
      'http://[::1]:8085',
      'https://emu.example.com',
    ]) {
      expect(gmailFromEnv({ rootUrl: url }, {}).id).toBe('gmail');
    }
  });

  it('refuses real GMAIL_* credentials with a root URL that is not Google, unless --allow-custom-root-url', () => {
    for (const rootUrl of ['https://gmail-proxy.example.com', 'http://127.0.0.1:8085']) {
      const fromFlag = refusal(() => gmailFromEnv({ rootUrl }, REAL));
      expect(fromFlag).toMatchObject({ exitCode: 2, code: 'CUSTOM_GMAIL_URL_WITH_REAL_CREDENTIALS' });
      expect(fromFlag.message).toContain('--allow-custom-root-url');
      // The same through GMAIL_ROOT_URL, the stray variable this guards against.
      expect(refusal(() => gmailFromEnv({}, { ...REAL, GMAIL_ROOT_URL: rootUrl })).code).toBe(
        'CUSTOM_GMAIL_URL_WITH_REAL_CREDENTIALS',
      );
    }
    const allowed = gmailSettings({
      'gmail-root-url': 'https://gmail-proxy.example.com',
      'allow-custom-root-url': true,
    });
    expect(gmailFromEnv(allowed, REAL).id).toBe('gmail');
    // Google's own root, and no root at all, need no flag.
    expect(gmailFromEnv({ rootUrl: 'https://gmail.googleapis.com' }, REAL).id).toBe('gmail');
    expect(gmailFromEnv({}, REAL).id).toBe('gmail');
  });

  it('applies the same rules to GMAIL_TOKEN_URL, which receives the refresh token and client secret', () => {
    expect(
      refusal(() => gmailFromEnv({}, { ...REAL, GMAIL_TOKEN_URL: 'http://tokens.example.com/token' })).code,
    ).toBe('INSECURE_GMAIL_URL');
    expect(
      refusal(() => gmailFromEnv({}, { ...REAL, GMAIL_TOKEN_URL: 'https://tokens.example.com/token' })).code,
    ).toBe('CUSTOM_GMAIL_URL_WITH_REAL_CREDENTIALS');
    expect(gmailFromEnv({}, { ...REAL, GMAIL_TOKEN_URL: 'https://oauth2.googleapis.com/token' }).id).toBe(
      'gmail',
    );
  });
});
