// Server-side sessions kept in the key-value store, so every process behind a load balancer sees the same ones.
// The rules, in order (test/sessions.test.ts follows them):
// 1. A session id is 256 random bits and lives only in the browser's cookie. The store keys the session by the id's
//    SHA-256, so a dump of the store gives no id that could be sent back as a cookie.
// 2. Idle expiry: a session not used for `idleMs` is gone; each use slides it (the key's time to live).
// 3. Absolute expiry: a session is gone `absoluteMs` after login, however busy it is.
// 4. Every login gets a new id (no fixation); ending a session deletes it at once.
import { createHash, randomBytes } from 'node:crypto';
import type { KeyValue } from '../../../adapters/kv/port.ts';
import { newId } from '../../../kernel/ids.ts';

export const idleMs = 30 * 60_000;
export const absoluteMs = 12 * 3_600_000;

/** What the store keeps; never the id itself. */
interface StoredSession {
  /** A public name for the session (`ses_…`), for logs and the API; it cannot be used to authenticate. */
  handle: string;
  userId: string;
  /** The synchronizer token that unsafe requests made with this session's cookie must send back. */
  csrfToken: string;
  createdAtMs: number;
  expiresAtMs: number;
}

export interface Session extends StoredSession {
  /** When the session ends if it is not used before; never after `expiresAtMs`. */
  idleExpiresAtMs: number;
}

export interface SessionStore {
  /** A new session for the user, with the id to put in the cookie. */
  create(userId: string): Promise<{ id: string; session: Session }>;
  /** The live session the id names, its idle expiry slid forward; null when unknown or expired. */
  use(id: string): Promise<Session | null>;
  end(id: string): Promise<void>;
}

const keyOf = (id: string) => `session:${createHash('sha256').update(id).digest('base64url')}`;

export function sessionStore(kv: KeyValue, nowMs: () => number): SessionStore {
  const idleExpiry = (now: number, expiresAtMs: number) => Math.min(now + idleMs, expiresAtMs);

  return {
    async create(userId) {
      const now = nowMs();
      const id = randomBytes(32).toString('base64url');
      const stored: StoredSession = {
        handle: newId('ses', now),
        userId,
        csrfToken: randomBytes(32).toString('base64url'),
        createdAtMs: now,
        expiresAtMs: now + absoluteMs,
      };
      const idleExpiresAtMs = idleExpiry(now, stored.expiresAtMs);
      await kv.set(keyOf(id), JSON.stringify(stored), idleExpiresAtMs - now);
      return { id, session: { ...stored, idleExpiresAtMs } };
    },

    async use(id) {
      const key = keyOf(id);
      const now = nowMs();
      // One command reads and slides the idle expiry; the absolute limit is checked on the value read.
      const value = await kv.getAndTouch(key, idleMs);
      if (value === null) return null;
      const stored = JSON.parse(value) as StoredSession;
      if (stored.expiresAtMs <= now) {
        await kv.delete(key);
        return null;
      }
      return { ...stored, idleExpiresAtMs: idleExpiry(now, stored.expiresAtMs) };
    },

    async end(id) {
      await kv.delete(keyOf(id));
    },
  };
}
