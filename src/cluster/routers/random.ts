/**
 * `random`: a uniformly random candidate per arrival, drawn from the router's seeded stream
 * (reproducible for a given `--seed`). The load-oblivious baseline of queueing theory's
 * "random routing" (each instance an independent queue fed a 1/n thinning of the arrivals).
 */
import type { Rng } from "../../workload/Rng.js"
import type { Router } from "../Router.js"

export const randomRouter = (rng: Rng): Router => (_r, candidates) => rng.int(0, candidates.length - 1)
