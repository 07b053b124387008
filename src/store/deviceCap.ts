import type { VisitEvent } from '../domain/event.ts';

/** What admitting a batch's device names did (see admitDevices). */
export interface Admission {
  /** Names new to the app that fit under its cap, in order of first appearance in the batch. */
  admitted: string[];
  /** Input indexes of accepted events whose name is new to the app and past its cap: they count under the overflow bucket. */
  overflow: Set<number>;
  /** The distinct names among those. */
  overflowNames: number;
}

/**
 * The per-app cap on distinct device names, shared by every backend: an app has at most `cap` device names, first
 * come first served; an event whose name the app has not used before, once it has `cap` names, counts under the
 * overflow bucket (OVERFLOW_DEVICE_NAME). `isKnown`/`count` describe the app's names so far; `skipped` are input
 * indexes not stored (duplicates). Pure: the caller records `admitted` with the batch.
 */
export function admitDevices(
  isKnown: (name: string) => boolean,
  count: number,
  events: readonly VisitEvent[],
  skipped: ReadonlySet<number>,
  cap: number,
): Admission {
  const fresh = new Set<string>();
  const over = new Set<string>();
  const overflow = new Set<number>();
  events.forEach((e, i) => {
    const name = e.device;
    if (name === null || skipped.has(i) || fresh.has(name) || isKnown(name)) return;
    if (count + fresh.size < cap) {
      fresh.add(name);
      return;
    }
    overflow.add(i);
    over.add(name);
  });
  return { admitted: [...fresh], overflow, overflowNames: over.size };
}
