/**
 * The simulated clock's range. Times are ns in float64; past 2^53 ns (about 104 days) they stop
 * being exact integers and step times (tens of µs) get lost in rounding, so the engine would stall.
 * Workloads whose arrivals go beyond MAX_ARRIVAL_NS are refused at input (with the flag or the
 * trace line that made them so): a quarter of 2^53 ns (about 26 days) leaves room for the queueing
 * and service time after the last arrival at full precision.
 */
export const MAX_ARRIVAL_NS = Number.MAX_SAFE_INTEGER / 4

/** MAX_ARRIVAL_NS in days, for messages. */
export const MAX_ARRIVAL_DAYS = MAX_ARRIVAL_NS / 86_400e9
