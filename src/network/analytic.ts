/**
 * Analytic network from a hardware's fabric and NIC (network/fabric.ts): each collective priced
 * per algorithm as NCCL's cost model (src/graph/tuning.cc) writes it, t = latency + bytes / bw,
 * and the algorithm the software would pick:
 *  - all-reduce: vLLM's custom all-reduce (one-shot / two-shot) when vLLM would use it (see
 *    `customAllReduceUse`), otherwise the cheapest of NCCL's ring (protocols LL, LL128, Simple),
 *    NVLS (NVSwitch with NVLink SHARP) and, across nodes, tree;
 *  - all-gather / reduce-scatter: NCCL ring (LL or Simple, the cheaper);
 *  - all-to-all (MoE EP dispatch / combine): NCCL grouped send/recv, bytes through each GPU's link
 *    (and, across nodes, the off-node share through its NIC);
 *  - send/recv (PP) and KV transfer (prefill -> decode): one point-to-point message over the
 *    fabric, or over the NIC when `crossNode`.
 * A group of more GPUs than `gpusPerNode` spans ceil(n / gpusPerNode) nodes (hierarchical: ring
 * steps inside a node use the fabric, steps between nodes the NIC; bandwidth is the slower of the
 * two). Times are integer ns; sizes bytes; GB/s = bytes/ns.
 *
 * Constants and their sources:
 *  - NCCL latencies (us): `NCCL_BASE_LAT_US` and `NCCL_HW_LAT_US` are NCCL's tuning-model tables
 *    (src/graph/tuning.cc `baseLat` / `hwLat`, NCCL 2.18-2.21): a ring all-reduce costs
 *    base + 2(n-1) x hwLat(per step); tree base + 2 x ((ppn-1) x intra + log2(nodes) x inter);
 *    NVLS 25 us. NCCL's bandwidth refinements kept: LL runs at 1/4 of the bus bandwidth for
 *    all-reduce (1/3 for the others), LL128 at 0.92 (NVLink only), tree at 0.9 of the NIC and
 *    half the bus as algorithm bandwidth.
 *  - Bus bandwidth (Simple ring), fraction of the fabric's per-direction bandwidth,
 *    `RING_EFFICIENCY`: NVLink 3 (A100) 0.54 and NVLink 4 (H100) 0.70 FITTED to Vidur's
 *    a100_dgx / h100_dgx all_reduce.csv at 2, 4, 8 GPUs, 16 KiB..64 MiB (network/compare.ts,
 *    jointly with its eager overhead; Vidur's 64 MiB points reach 174 and 365 GB/s bus bandwidth
 *    at 8 GPUs, nccl-tests ~230 / ~370 GB/s at >= 1 GiB, so large messages come out slow); other NVLink generations and Infinity
 *    Fabric use 0.8 (nccl-tests / rccl-tests large-message bus bandwidth is 75-85% of the link);
 *    PCIe with P2P 0.7 (nccl-tests PCIe 4 x16 pairs: ~22 GB/s of 32), PCIe without P2P 0.35 (NCCL's
 *    SHM transport through host memory on GeForce: ~11 GB/s on PCIe 4); NIC 0.9 (nccl-tests
 *    InfiniBand NDR: ~45 of 50 GB/s per GPU). Estimates where not fitted.
 *  - NVLS (`NVLS_EFFICIENCY` 0.61): nccl-tests all-reduce on 8 H100 with NVLS reaches ~480 GB/s bus
 *    bandwidth = 274 GB/s of message per GPU, 0.61 of the 450 GB/s link; each GPU moves the
 *    message once each way.
 *  - vLLM custom all-reduce (vllm/distributed/device_communicators/custom_all_reduce.py and
 *    csrc/custom_all_reduce.cuh): world sizes 2, 4, 6, 8; messages < 8 MiB (`max_size`); off for
 *    more than 2 GPUs unless every pair is linked (fully connected NVLink), and off without P2P;
 *    one-shot when n = 2, or n <= 4 and < 512 KiB, or n <= 8 and < 256 KiB, else two-shot.
 *    One-shot reads the n-1 peers' buffers: lat + (n-1) x bytes / bw; two-shot is a
 *    reduce-scatter + all-gather: lat + 2(n-1)/n x bytes / bw. Latencies `CUSTOM_AR_LAT_US`
 *    (one-shot 6 us, two-shot 9 us over NVLink; 10 / 14 us over PCIe) are ESTIMATES from vLLM's
 *    published custom all-reduce benchmarks (vLLM PR #2192: a few us for decode-sized messages on
 *    A100/H100, 2-3x under NCCL), not fitted and not measured here.
 *  - P2P (send/recv, KV transfer, all-to-all) latency: NCCL Simple base latency + one hop.
 */
import type { Fabric, Hardware, Nic } from "../domain/Hardware.js"
import type { Network } from "../domain/Network.js"
import { fabricOf, nicOf, pcieOf } from "./fabric.js"

/** NCCL tuning.cc `baseLat` (us), by algorithm and protocol. */
export const NCCL_BASE_LAT_US = {
  ring: { LL: 6.6, LL128: 14.0, Simple: 8.4 },
  tree: { LL: 6.8, LL128: 14.0, Simple: 8.4 },
  nvls: { Simple: 25 }
} as const

/** NCCL tuning.cc `hwLat` (us per step), by link class, algorithm and protocol. */
export const NCCL_HW_LAT_US = {
  nvlink: { ring: { LL: 0.6, LL128: 1.9, Simple: 3.4 }, tree: { LL: 0.6, LL128: 1.25, Simple: 4.0 } },
  pci: { ring: { LL: 1.0, LL128: 2.5, Simple: 5.7 }, tree: { LL: 1.0, LL128: 1.9, Simple: 4.0 } },
  net: { ring: { LL: 2.7, LL128: 4.0, Simple: 14.0 }, tree: { LL: 5.0, LL128: 8.5, Simple: 14.0 } }
} as const

/** Simple-ring bus bandwidth as a fraction of the per-direction link (see the module comment). */
export const RING_EFFICIENCY = {
  nvlink3: 0.54,
  nvlink4: 0.7,
  nvlinkOther: 0.8,
  xgmi: 0.8,
  pcieP2p: 0.7,
  pcieNoP2p: 0.35,
  nic: 0.9
} as const

export const NVLS_EFFICIENCY = 0.61
/** NCCL tuning.cc: LL all-reduce at 1/4 of bus bandwidth, 1/3 for other collectives; LL128 at 0.92. */
export const LL_AR_FACTOR = 1 / 4
export const LL_OTHER_FACTOR = 1 / 3
export const LL128_FACTOR = 0.92
/** NCCL tuning.cc: tree bus bandwidth 0.9 of the link, algorithm bandwidth half of that. */
export const TREE_BW_FACTOR = 0.9 * 0.5
/** NCCL tuning.cc: tree LL at 1/3.8 of the tree bandwidth. */
export const TREE_LL_FACTOR = 1 / 3.8

/** vLLM custom all-reduce thresholds (custom_all_reduce.py / custom_all_reduce.cuh). */
export const CUSTOM_AR = {
  worldSizes: [2, 4, 6, 8],
  maxBytes: 8 * 1024 * 1024,
  oneShotBelow4: 512 * 1024,
  oneShotBelow8: 256 * 1024
} as const

/** vLLM custom all-reduce latency estimates, us (see the module comment). */
export const CUSTOM_AR_LAT_US = {
  nvlink: { oneShot: 6, twoShot: 9 },
  pcie: { oneShot: 10, twoShot: 14 }
} as const

export type Algorithm =
  | "custom-one-shot" | "custom-two-shot"
  | "ring-LL" | "ring-LL128" | "ring-Simple" | "nvls" | "tree-LL" | "tree-Simple" | "p2p" | "none"

export interface Priced {
  readonly ns: number
  readonly algorithm: Algorithm
}

type LinkClass = "nvlink" | "pci" | "net"

/** How a group of n GPUs inside one node is connected. */
interface IntraLink {
  /** Latency row of NCCL's tables. */
  readonly lat: "nvlink" | "pci"
  /** Simple-ring bus bandwidth, bytes/ns. */
  readonly busBytesPerNs: number
  /** Bandwidth into one GPU from all its peers together (custom all-reduce, all-to-all), bytes/ns. */
  readonly inBytesPerNs: number
  /** P2P available (vLLM custom all-reduce needs it). */
  readonly p2p: boolean
  /** Every pair directly linked (vLLM's `fully_connected`). */
  readonly fullyConnected: boolean
  /** NVLink SHARP reachable. */
  readonly nvls: boolean
  readonly pcie: boolean
}

const us = (x: number) => x * 1000

/** The analytic network plus what it chose (for reports and tests). */
export interface AnalyticNetwork extends Network {
  /** All-reduce time and the algorithm vLLM / NCCL would pick. */
  readonly allReduce: (bytes: number, n: number) => Priced
  /** NCCL's own all-reduce (what torch.distributed.all_reduce runs; no vLLM custom kernel). */
  readonly ncclAllReduce: (bytes: number, n: number) => Priced
  /** The fabric, NIC and constants as plain JSON (summary.json). */
  readonly describe: () => Record<string, unknown>
}

const ringEfficiency = (f: Fabric): number =>
  f.kind === "xgmi" ? RING_EFFICIENCY.xgmi :
  f.generation === 3 ? RING_EFFICIENCY.nvlink3 :
  f.generation === 4 ? RING_EFFICIENCY.nvlink4 : RING_EFFICIENCY.nvlinkOther

/** The analytic Network of a hardware description (see the module comment). */
export const analyticNetwork = (hw: Hardware): AnalyticNetwork => {
  const fabric = fabricOf(hw)
  const nic: Nic = nicOf(hw)
  const pcie = pcieOf(hw)
  const gpn = fabric.gpusPerNode
  const nicBytesPerNs = nic.perGpuGBs * RING_EFFICIENCY.nic

  const pcieLink = (n: number): IntraLink => {
    const eff = fabric.p2p ? RING_EFFICIENCY.pcieP2p : RING_EFFICIENCY.pcieNoP2p
    const bw = pcie.perDirectionGBs * eff
    return { lat: "pci", busBytesPerNs: bw, inBytesPerNs: bw, p2p: fabric.p2p, fullyConnected: n <= 2, nvls: false, pcie: true }
  }
  const intra = (n: number): IntraLink => {
    if (fabric.kind === "pcie" || (fabric.topology === "bridge" && n > 2)) return pcieLink(n)
    const eff = ringEfficiency(fabric)
    if (fabric.topology === "full-mesh") {
      // one link per peer: a group of n uses n-1 of the gpusPerNode-1 links of each GPU
      const share = gpn > 1 ? Math.min(1, (n - 1) / (gpn - 1)) : 1
      const bw = fabric.perDirectionGBs * share * eff
      return { lat: "nvlink", busBytesPerNs: bw, inBytesPerNs: bw, p2p: true, fullyConnected: true, nvls: false, pcie: false }
    }
    const bw = fabric.perDirectionGBs * eff
    return {
      lat: "nvlink",
      busBytesPerNs: bw,
      inBytesPerNs: bw,
      p2p: true,
      fullyConnected: fabric.topology === "switch" || n <= 2,
      nvls: fabric.nvls && fabric.topology === "switch",
      pcie: false
    }
  }

  const best = (xs: ReadonlyArray<Priced>): Priced => xs.reduce((a, b) => (b.ns < a.ns ? b : a))
  const priced = (ns: number, algorithm: Algorithm): Priced => ({ ns, algorithm })

  /** NCCL ring for a collective with `steps` ring steps (inter-node: `interSteps`) and volume factor. */
  const ring = (bytes: number, n: number, allReduce: boolean): Array<Priced> => {
    const nodes = Math.ceil(n / gpn)
    const link = intra(Math.min(n, gpn))
    const steps = allReduce ? 2 * (n - 1) : n - 1
    const interSteps = nodes <= 1 ? 0 : allReduce ? 2 * (nodes - 1) : nodes - 1
    const volume = (allReduce ? 2 * (n - 1) : n - 1) / n
    const bus = nodes <= 1 ? link.busBytesPerNs : Math.min(link.busBytesPerNs, nicBytesPerNs)
    const lat = (p: "LL" | "LL128" | "Simple") => {
      const intraLat = NCCL_HW_LAT_US[link.lat].ring[p] * (nodes > 1 && p === "LL" ? 1.8 : 1)
      return us(NCCL_BASE_LAT_US.ring[p] + (steps - interSteps) * intraLat + interSteps * NCCL_HW_LAT_US.net.ring[p])
    }
    const out: Array<Priced> = [
      priced(lat("Simple") + volume * bytes / bus, "ring-Simple"),
      priced(lat("LL") + volume * bytes / (bus * (allReduce ? LL_AR_FACTOR : LL_OTHER_FACTOR)), "ring-LL")
    ]
    if (!link.pcie && allReduce) out.push(priced(lat("LL128") + volume * bytes / (bus * LL128_FACTOR), "ring-LL128"))
    return out
  }

  const tree = (bytes: number, n: number): Array<Priced> => {
    const nodes = Math.ceil(n / gpn)
    if (nodes <= 1) return []
    const ppn = Math.min(n, gpn)
    const link = intra(ppn)
    const bw = Math.min(link.busBytesPerNs, nic.perGpuGBs) * TREE_BW_FACTOR
    const lat = (p: "LL" | "Simple") =>
      us(NCCL_BASE_LAT_US.tree[p] + 2 * ((ppn - 1) * NCCL_HW_LAT_US[link.lat].tree[p] * (p === "LL" ? 1.8 : 1) + Math.log2(nodes) * NCCL_HW_LAT_US.net.tree[p]))
    return [priced(lat("Simple") + bytes / bw, "tree-Simple"), priced(lat("LL") + bytes / (bw * TREE_LL_FACTOR), "tree-LL")]
  }

  const nvls = (bytes: number, n: number): Array<Priced> => {
    if (n > gpn || !intra(n).nvls) return []
    return [priced(us(NCCL_BASE_LAT_US.nvls.Simple) + bytes / (fabric.perDirectionGBs * NVLS_EFFICIENCY), "nvls")]
  }

  const ncclAllReduce = (bytes: number, n: number): Priced => {
    if (n <= 1) return priced(0, "none")
    return best([...ring(bytes, n, true), ...tree(bytes, n), ...nvls(bytes, n)])
  }

  /** vLLM's custom all-reduce, when vLLM would run it for this message and group. */
  const customAllReduce = (bytes: number, n: number): Priced | undefined => {
    if (n > gpn || !(CUSTOM_AR.worldSizes as ReadonlyArray<number>).includes(n) || bytes >= CUSTOM_AR.maxBytes) return undefined
    const link = intra(n)
    if (!link.p2p || (n > 2 && !link.fullyConnected)) return undefined
    const lat = link.pcie ? CUSTOM_AR_LAT_US.pcie : CUSTOM_AR_LAT_US.nvlink
    const oneShot = n === 2 || (n <= 4 && bytes < CUSTOM_AR.oneShotBelow4) || (n <= 8 && bytes < CUSTOM_AR.oneShotBelow8)
    return oneShot
      ? priced(us(lat.oneShot) + (n - 1) * bytes / link.inBytesPerNs, "custom-one-shot")
      : priced(us(lat.twoShot) + (2 * (n - 1) / n) * bytes / link.inBytesPerNs, "custom-two-shot")
  }

  const allReduce = (bytes: number, n: number): Priced => customAllReduce(bytes, n) ?? ncclAllReduce(bytes, n)

  const gatherLike = (bytes: number, n: number) => n <= 1 ? 0 : Math.round(best(ring(bytes, n, false)).ns)

  const p2pLat = (cls: LinkClass) => us(NCCL_BASE_LAT_US.ring.Simple + NCCL_HW_LAT_US[cls].ring.Simple)
  const sendRecvNs = (bytes: number, crossNode?: boolean) => {
    if (crossNode === true || gpn < 2) return Math.round(p2pLat("net") + bytes / nicBytesPerNs)
    const link = intra(2)
    return Math.round(p2pLat(link.lat) + bytes / link.busBytesPerNs)
  }

  const allToAllNs = (bytes: number, n: number) => {
    if (n <= 1) return 0
    const ppn = Math.min(n, gpn)
    const link = intra(ppn)
    const intraNs = p2pLat(link.lat) + ((ppn - 1) / n) * bytes / link.inBytesPerNs
    if (n <= gpn) return Math.round(intraNs)
    const interNs = p2pLat("net") + ((n - ppn) / n) * bytes / nicBytesPerNs
    return Math.round(Math.max(intraNs, interNs))
  }

  return {
    allReduce,
    ncclAllReduce,
    allReduceNs: (bytes, n) => Math.round(allReduce(bytes, n).ns),
    allGatherNs: gatherLike,
    reduceScatterNs: gatherLike,
    allToAllNs,
    sendRecvNs,
    kvTransferNs: sendRecvNs,
    describe: () => ({
      model: "analytic",
      fabric,
      nic,
      pcie,
      derived_fabric: hw.fabric === undefined,
      ring_bus_GBs: intra(Math.min(2, gpn)).busBytesPerNs,
      ring_bus_GBs_node: intra(gpn).busBytesPerNs,
      nic_bus_GBs: nicBytesPerNs,
      nccl_base_lat_us: NCCL_BASE_LAT_US,
      nccl_hw_lat_us: NCCL_HW_LAT_US,
      ring_efficiency: RING_EFFICIENCY,
      nvls_efficiency: NVLS_EFFICIENCY,
      custom_all_reduce: { ...CUSTOM_AR, lat_us: CUSTOM_AR_LAT_US }
    })
  }
}
