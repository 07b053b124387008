/** An app (a mini-program). Its secret is kept only as a salted hash, plus a copy sealed with the server's key. */
export interface AppRecord {
  appid: string;
  name: string;
  /** `scrypt$<salt hex>$<hash hex>` */
  secretHash: string;
  /**
   * The secret sealed (AES-256-GCM) with the server's master key: the cloud-call adapter needs the secret itself
   * to check TC3-HMAC-SHA256 signatures, and a hash cannot give it back. Never stored in clear.
   */
  secretSealed: string;
  /** Cloud env id used by wx-server-sdk; the appid unless set. */
  env: string;
  /** Calls a day allowed per API. */
  dailyQuota: number;
  createdAt: number;
  /** Whether the public `/v1/collect` route takes events for this app (on unless turned off). */
  collect: boolean;
  /**
   * Retention: events older than this many Shanghai days are dropped by the daily prune (at least 31, so every
   * window WeChat allows stays whole); null or absent keeps everything (the default). Stores always give it.
   */
  retainDays?: number | null;
}

export type AppPatch = Partial<Pick<AppRecord, 'name' | 'env' | 'dailyQuota' | 'secretHash' | 'secretSealed' | 'collect' | 'retainDays'>>;

/** `token`: from GET /cgi-bin/token; `stable`: from POST /cgi-bin/stable_token; `admin`: local admin credential. */
export type TokenKind = 'token' | 'stable';

export interface TokenRecord {
  /** sha256 of the token, hex. */
  hash: string;
  appid: string;
  kind: TokenKind;
  issuedAt: number;
  expiresAt: number;
  /** Stable tokens only: the token sealed with the server key, so the same one can be handed out again. */
  sealed: string | null;
}
