/** Why one input record was not stored. `field` names the offending field (or `record` for the whole thing). */
export interface Rejection {
  field: string;
  reason: string;
}

export function reject(field: string, reason: string): Rejection {
  return { field, reason };
}
