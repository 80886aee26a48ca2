import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

/** The claims of a Google-issued OIDC ID token, as Pub/Sub's authenticated push sends them. */
export interface IdTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  email: string;
  email_verified: boolean;
  azp?: string;
  iat: number;
  exp: number;
  [claim: string]: unknown;
}

/** One RSA public key as a JSON Web Key, the entry format of Google's `/oauth2/v3/certs`. */
export interface PublicJwk {
  kty: 'RSA';
  alg: 'RS256';
  use: 'sig';
  kid: string;
  n: string;
  e: string;
}

const base64url = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');

/**
 * An RS256 signing key standing in for Google's: the emulator signs its push tokens with it and
 * serves its public half where Google serves its certificates. Generated per emulator, so nothing
 * secret ships with the package; a test can make a second one to forge tokens the app must refuse.
 */
export class PushSigningKey {
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  /** The public key as SPKI PEM (Google's `/oauth2/v1/certs` map holds X.509 certificates instead). */
  readonly publicPem: string;
  readonly #privateKey: KeyObject;

  constructor() {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#privateKey = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    this.kid = createHash('sha256').update(String(jwk.n)).digest('hex').slice(0, 40);
    this.publicJwk = {
      kty: 'RSA',
      alg: 'RS256',
      use: 'sig',
      kid: this.kid,
      n: String(jwk.n),
      e: String(jwk.e),
    };
    this.publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  /** A compact JWS over `claims`: header `{ alg: RS256, kid, typ: JWT }`, signed with this key. */
  sign(claims: IdTokenClaims, header: { kid?: string } = {}): string {
    const head = base64url(JSON.stringify({ alg: 'RS256', kid: header.kid ?? this.kid, typ: 'JWT' }));
    const body = base64url(JSON.stringify(claims));
    const signature = sign('sha256', Buffer.from(`${head}.${body}`), this.#privateKey);
    return `${head}.${body}.${base64url(signature)}`;
  }
}

/** Creates a fresh signing key (2048-bit RSA), e.g. to forge a token signed by the wrong key. */
export function createPushSigningKey(): PushSigningKey {
  return new PushSigningKey();
}
