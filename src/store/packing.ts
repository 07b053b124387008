/**
 * How the per-user-day tables keep "the latest known value" of a dimension in one integer:
 * `(event time in ms << VALUE_BITS) | value`, 0 when the value is unknown. The `max` of such integers over any
 * set of rows is the latest known value (ties: the larger value), so a window's answer per user is one `max`
 * per dimension. Shared by every backend.
 */
export const VALUE_BITS = 20;
export const VALUE_MASK = (1 << VALUE_BITS) - 1;
