/**
 * Comparing the real system's answers and library with the model's. The
 * order of a record's `usedIn` is not part of the contract (a refresh walks
 * the content files in directory order), so it is compared as a set; an
 * absent `usedIn` (the editor's records) means "used nowhere". Everything
 * else must be equal, field for field, including fields mediastore does not
 * know.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Outcome } from './library-model.js';

type Json = Record<string, unknown>;

function normaliseRecord(rec: unknown): unknown {
  if (typeof rec !== 'object' || rec === null) return rec;
  const r = rec as Json;
  return { ...r, usedIn: [...((r.usedIn as string[] | undefined) ?? [])].sort() };
}

function normaliseValue(method: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const v = value as Json;
  switch (method) {
    case 'listMedia':
      return { ...v, files: (v.files as unknown[]).map(normaliseRecord) };
    case 'getMedia':
    case 'updateMetadata':
      return normaliseRecord(v);
    case 'addMedia':
      return (value as unknown[]).map(normaliseRecord);
    case 'usage':
      return { ...v, usedIn: [...(v.usedIn as string[])].sort() };
    case 'deleteMedia':
      return {
        deleted: (v.deleted as unknown[]).map(normaliseRecord),
        inUse: (v.inUse as Json[]).map((u) => ({ ...u, usedIn: [...(u.usedIn as string[])].sort() })),
        notFound: v.notFound,
      };
    default:
      return value;
  }
}

/**
 * The paths a save reports may include extra candidates the extractor keeps
 * to err towards over-marking (`…/hero.jpg.` beside `…/hero.jpg` in prose);
 * they are harmless as long as they mark nothing, which `fileIds` checks
 * exactly. So the model's paths must appear in the answer, in order, and
 * extras are dropped before comparing.
 */
function withoutExtraCandidates(expected: Outcome, actual: Outcome): Outcome {
  if (!expected.ok || !actual.ok) return actual;
  const want = (expected.value as { mediaPaths?: unknown }).mediaPaths;
  const got = (actual.value as { mediaPaths?: unknown }).mediaPaths;
  if (!Array.isArray(want) || !Array.isArray(got)) return actual;
  let next = 0;
  for (const path of got) if (next < want.length && path === want[next]) next++;
  if (next < want.length) return actual; // a path is missing or out of order: let the diff show it
  return { ok: true, value: { ...(actual.value as object), mediaPaths: want } };
}

export function normaliseOutcome(method: string, outcome: Outcome): Outcome {
  return outcome.ok ? { ok: true, value: normaliseValue(method, outcome.value) } : outcome;
}

/** A short, readable description of where two JSON values first differ. */
export function firstDifference(expected: unknown, actual: unknown, at = '$'): string | null {
  if (isDeepStrictEqual(expected, actual)) return null;
  if (typeof expected === 'object' && expected !== null && typeof actual === 'object' && actual !== null && Array.isArray(expected) === Array.isArray(actual)) {
    const e = expected as Json;
    const a = actual as Json;
    if (Array.isArray(e) && Array.isArray(a) && e.length !== a.length) {
      return `${at}: expected ${e.length} items, got ${a.length}: expected ${clip(e)}, got ${clip(a)}`;
    }
    for (const key of new Set([...Object.keys(e), ...Object.keys(a)])) {
      if (!(key in a)) return `${at}.${key}: missing, expected ${clip(e[key])}`;
      if (!(key in e)) return `${at}.${key}: unexpected ${clip(a[key])}`;
      const inner = firstDifference(e[key], a[key], `${at}.${key}`);
      if (inner) return inner;
    }
  }
  return `${at}: expected ${clip(expected)}, got ${clip(actual)}`;
}

function clip(value: unknown): string {
  if (typeof value === 'string' && value.length > 60) return `${JSON.stringify(value.slice(0, 40))}… (${value.length} characters)`;
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

/** Throws with the step, the call and the first difference unless the answers agree. */
export function assertSameOutcome(what: string, method: string, expected: Outcome, actual: Outcome): void {
  if (expected.ok !== actual.ok) throw new Error(`${what}: expected ${clip(expected)}, got ${clip(actual)}`);
  // setUsage runs the same extractor over the paths it is given.
  const comparable = method === 'saveContent' || method === 'setUsage' ? withoutExtraCandidates(expected, actual) : actual;
  const diff = firstDifference(normaliseOutcome(method, expected), normaliseOutcome(method, comparable));
  if (diff) throw new Error(`${what}: ${diff}`);
}
