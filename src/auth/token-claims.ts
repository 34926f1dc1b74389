/**
 * What Pollster takes from a verified token's claims: `sub` names the user,
 * `walls` grants walls on top of memberships. Both come from another
 * application, so each is checked as strictly as a request body would be.
 */
import { TokenRefused } from './token-refused.js';

/** Longest `sub`, in code points: the limit on user names at login. */
export const MAX_SUBJECT_LENGTH = 100;
/** More walls than a poll may name would never be usable at once. */
export const MAX_GRANTED_WALLS = 1000;

/** C0, DEL and C1 controls: a name with a newline or an escape would forge log lines and page text. */
const CONTROL = /\p{Cc}/u;

/** The user a token names: 1–100 code points of well-formed Unicode, no control characters. */
export function subjectOf(sub: unknown): string {
  if (typeof sub !== 'string' || sub.length === 0 || !sub.isWellFormed() || CONTROL.test(sub)) throw new TokenRefused('subject');
  if ([...sub].length > MAX_SUBJECT_LENGTH) throw new TokenRefused('subject');
  return sub;
}

/** A canonical positive id: a safe integer ≥ 1 as a JSON number, or its canonical decimal string ("7", never "07" or "7.0"). */
function wallId(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 1 ? value : null;
  if (typeof value !== 'string' || !/^[1-9]\d{0,15}$/.test(value)) return null;
  const id = Number(value);
  return Number.isSafeInteger(id) ? id : null;
}

/** The `walls` claim: absent means none; anything but a list of canonical positive ids refuses the token. */
export function grantedWallsOf(walls: unknown): number[] {
  if (walls === undefined) return [];
  if (!Array.isArray(walls) || walls.length > MAX_GRANTED_WALLS) throw new TokenRefused('walls');
  const ids = new Set<number>();
  for (const value of walls) {
    const id = wallId(value);
    if (id === null) throw new TokenRefused('walls');
    ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}
