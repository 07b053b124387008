import { createCipheriv, createDecipheriv, createHash, createHmac, hash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

/** A new appid: `wx` + 16 lowercase hex characters. */
export function newAppid(): string {
  return `wx${randomBytes(8).toString('hex')}`;
}

/** A new app secret: 32 hex characters (128 bits). */
export function newSecret(): string {
  return randomBytes(16).toString('hex');
}

/** A new access token: 384 random bits, URL-safe, 64 characters. */
export function newToken(): string {
  return randomBytes(48).toString('base64url');
}

/**
 * The demo app of a seed (`datacube demo --seed N`, `serve --demo --seed N`): the same appid and secret for the same
 * seed on every machine, so a test suite can write them down. Anyone who knows the seed knows the secret: for test
 * and demo data only.
 */
export function seededAppCredentials(seed: number): { appid: string; secret: string } {
  const digest = (what: string) => createHash('sha256').update(`datacube seeded ${what} ${seed >>> 0}`).digest('hex');
  return { appid: `wx${digest('appid').slice(0, 16)}`, secret: digest('secret').slice(0, 32) };
}

export const APPID_PATTERN = /^wx[0-9a-f]{16}$/;
export const SECRET_PATTERN = /^[0-9a-f]{32}$/;

/**
 * A cloud env id as WeChat/CloudBase makes them (`prod-1g2h3j4k5l6m7n8o`, `test-3f4e5d`, `cloud1-0g1h2i`): lower-case
 * letters and digits in groups joined by single hyphens, starting with a letter, 4-64 characters. An appid
 * (`wx` + 16 hex digits), the default env, is one too.
 */
export const ENV_ID_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Why `env` is not a valid cloud env id, or undefined when it is. */
export function envIdProblem(env: string): string | undefined {
  if (env.length >= 4 && env.length <= 64 && ENV_ID_PATTERN.test(env)) return undefined;
  return `env ${JSON.stringify(env)} is not a cloud env id: use 4-64 lower-case letters, digits and single hyphens, starting with a letter (like prod-1g2h3j4k)`;
}

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;

/** `scrypt$<salt>$<hash>`: the only form in which a secret is kept. */
export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, 32, SCRYPT);
  return `scrypt$${salt.toString('hex')}$${hash.toString('hex')}`;
}

/**
 * Constant-time check of a secret against its stored hash. scrypt runs on libuv's thread pool, so a stream of
 * token requests does not stall the event loop (each check costs tens of milliseconds of CPU by design).
 */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [kind, saltHex, hashHex] = stored.split('$');
  if (kind !== 'scrypt' || !saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, 'hex');
  if (expected.length === 0) return false;
  const actual = await new Promise<Buffer>((resolve, reject) =>
    scrypt(secret, Buffer.from(saltHex, 'hex'), expected.length, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))),
  );
  return timingSafeEqual(actual, expected);
}

/** Tokens carry 384 random bits, so a plain SHA-256 is a safe way to keep them. */
export function hashToken(token: string): string {
  // One-shot hash(): a quarter of createHash()'s cost, and this runs on every call that carries a token.
  return hash('sha256', token, 'hex');
}

/**
 * Constant-time equality of two strings: compares their SHA-256 digests, so neither the content nor the length of
 * the expected value shows in the time taken.
 */
export function safeEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a, 'utf8').digest();
  const y = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(x, y);
}

/** AES-256-GCM with the server's master key: `v1.<iv>.<tag>.<ciphertext>` (base64url). */
export class Sealer {
  private readonly key: Buffer;
  constructor(keyHex: string) {
    this.key = Buffer.from(keyHex, 'hex');
    if (this.key.length !== 32) throw new Error('the master key must be 32 bytes (64 hex characters)');
  }
  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(context));
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }
  /**
   * A short fingerprint of the key (an HMAC of a fixed text, which reveals nothing of the key): a backup records it,
   * so a restore can tell whether the sealed secrets in it will open with the key in use.
   */
  fingerprint(): string {
    return createHmac('sha256', this.key).update('datacube master key fingerprint').digest('hex').slice(0, 16);
  }
  /** The plain text, or `undefined` if the box was not sealed by this key for this context. */
  open(sealed: string, context: string): string | undefined {
    const [v, iv, tag, body] = sealed.split('.');
    if (v !== 'v1' || iv === undefined || tag === undefined || body === undefined) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      d.setAAD(Buffer.from(context));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
