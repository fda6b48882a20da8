// What a presented secret stands for, kept in the key-value store (this process's memory, or Redis shared by every
// process) so that a key's every use does not cost two queries (the key, then its owner). Rules:
//   1. An entry is found by the secret's hash, never the secret, and holds the key, when that secret stops working,
//      and the owner's id, role and status. It lives `lookupTtlMs` at most.
//   2. Revoking or rolling a key forgets the entries of all its secrets, and changing or deleting a user forgets
//      those of all the user's keys, once the change has committed. The times an entry carries (the key's expiry,
//      a rolled secret's grace) are checked at every use, as the database's would be.
//   3. A lookup that read the database just before a change and stores its entry just after the change forgot it
//      leaves a stale entry; rule 1's lifetime bounds that race.
//   4. Only found keys are kept: an unknown secret costs a query each time, and the rate limiter bounds how often.
import type { KeyValue } from '../../../adapters/kv/port.ts';
import type { Role } from '../principal.ts';
import type { ApiKeyRecord } from './schema.ts';

const lookupTtlMs = 60_000;

export interface KeyLookup {
  key: ApiKeyRecord;
  secretExpiresAt: string | null;
  owner: { id: string; role: Role; status: string } | null;
}

const entryKey = (secretHash: string) => `api-key:${secretHash}`;

export interface KeyLookups {
  find(secretHash: string): Promise<KeyLookup | null>;
  remember(secretHash: string, lookup: KeyLookup): Promise<void>;
  forget(secretHashes: readonly string[]): Promise<void>;
}

/** Entries read lately, parsed: the same text is parsed once, not on each use. */
const parsedEntries = 1000;

export function keyLookups(store: KeyValue): KeyLookups {
  const parsed = new Map<string, { text: string; lookup: KeyLookup }>();
  return {
    async find(secretHash) {
      const text = await store.get(entryKey(secretHash));
      if (text === null) return null;
      const seen = parsed.get(secretHash);
      if (seen?.text === text) return seen.lookup;
      const lookup = JSON.parse(text) as KeyLookup;
      if (parsed.size >= parsedEntries) parsed.delete(parsed.keys().next().value as string);
      parsed.set(secretHash, { text, lookup });
      return lookup;
    },
    async remember(secretHash, lookup) {
      await store.set(entryKey(secretHash), JSON.stringify(lookup), lookupTtlMs);
    },
    async forget(secretHashes) {
      await Promise.all(secretHashes.map((hash) => store.delete(entryKey(hash))));
    },
  };
}
