/**
 * The analytic network (src/network/analytic.ts), one hand-computed case per algorithm. Every
 * expected time is written out here from the documented constants (NCCL tuning.cc latencies,
 * the ring efficiencies, vLLM's custom all-reduce thresholds and latency estimates), not read
 * from the model's tables, so a changed constant or formula fails here.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadHardware } from "../../src/config/catalog.js"
import type { Hardware } from "../../src/domain/Hardware.js"
import { analyticNetwork } from "../../src/network/analytic.js"
import { fabricOf, nicOf } from "../../src/network/fabric.js"
import { testHardware } from "../helpers.js"

const KiB = 1024
const MiB = 1024 * 1024
const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(1)

describe("analytic network: one hand-computed case per algorithm", () => {
  it.effect("H100 (NVLink 4, NVSwitch, NVLS): custom one-shot, two-shot, NVLS, ring", () =>
    Effect.gen(function*() {
      const net = analyticNetwork(yield* loadHardware("H100"))
      const bw = 450 * 0.7 // Simple-ring bus bandwidth, bytes/ns
      // custom one-shot, TP 8, 128 KiB (< 256 KiB): 6 us + 7 x bytes / bw
      let p = net.allReduce(128 * KiB, 8)
      expect(p.algorithm).toBe("custom-one-shot")
      close(p.ns, 6000 + 7 * 131072 / bw)
      // custom two-shot, TP 8, 1 MiB (>= 256 KiB, < 8 MiB): 9 us + 2 x 7/8 x bytes / bw
      p = net.allReduce(MiB, 8)
      expect(p.algorithm).toBe("custom-two-shot")
      close(p.ns, 9000 + 1.75 * MiB / bw)
      // TP 4, 256 KiB: still one-shot (< 512 KiB at <= 4 GPUs)
      expect(net.allReduce(256 * KiB, 4).algorithm).toBe("custom-one-shot")
      // NVLS, TP 8, 64 MiB (>= 8 MiB: NCCL): 25 us + bytes / (450 x 0.61); ring Simple would be
      // 8.4 + 14 x 3.4 = 56 us + 1.75 x bytes / 315
      p = net.allReduce(64 * MiB, 8)
      expect(p.algorithm).toBe("nvls")
      close(p.ns, 25000 + 64 * MiB / (450 * 0.61))
      expect(p.ns).toBeLessThan(56000 + 1.75 * 64 * MiB / bw)
      // ring Simple, TP 2, 64 MiB: 8.4 + 2 x 3.4 = 15.2 us + 1 x bytes / 315 (NVLS 25 us + bytes / 274.5 is slower)
      p = net.allReduce(64 * MiB, 2)
      expect(p.algorithm).toBe("ring-Simple")
      close(p.ns, 15200 + 64 * MiB / bw)
      // NCCL alone at 16 KiB, TP 8: ring LL, 6.6 + 14 x 0.6 = 15 us + 1.75 x bytes / (315 / 4)
      p = net.ncclAllReduce(16 * KiB, 8)
      expect(p.algorithm).toBe("ring-LL")
      close(p.ns, 15000 + 1.75 * 16384 / (bw / 4))
    }))

  it.effect("RTX 4090 (PCIe 4, no P2P): no custom all-reduce, NCCL ring over host memory at 0.35 x 32 GB/s", () =>
    Effect.gen(function*() {
      const net = analyticNetwork(yield* loadHardware("RTX4090"))
      const bw = 32 * 0.35
      // 32 MiB at TP 2: ring Simple, 8.4 + 2 x 5.7 = 19.8 us + bytes / 11.2
      let p = net.allReduce(32 * MiB, 2)
      expect(p.algorithm).toBe("ring-Simple")
      close(p.ns, 19800 + 32 * MiB / bw)
      // 16 KiB at TP 2: no P2P, so NCCL even for a decode-sized message: ring LL, 6.6 + 2 x 1.0 = 8.6 us + bytes / (11.2 / 4)
      p = net.allReduce(16 * KiB, 2)
      expect(p.algorithm).toBe("ring-LL")
      close(p.ns, 8600 + 16384 / (bw / 4))
    }))

  it.effect("L40S (PCIe 4 with P2P): custom one-shot at TP 2, off at TP 4 (more than 2 PCIe-only GPUs)", () =>
    Effect.gen(function*() {
      const net = analyticNetwork(yield* loadHardware("L40S"))
      const bw = 32 * 0.7
      const p = net.allReduce(64 * KiB, 2)
      expect(p.algorithm).toBe("custom-one-shot")
      close(p.ns, 10000 + 65536 / bw)
      expect(net.allReduce(64 * KiB, 4).algorithm).not.toMatch(/^custom/)
      // 8 MiB is vLLM's max_size: NCCL from there on
      expect(net.allReduce(8 * MiB, 2).algorithm).not.toMatch(/^custom/)
    }))

  it.effect("cross-node (H100, 16 GPUs on two 8-GPU nodes): tree for small messages, ring for large", () =>
    Effect.gen(function*() {
      const net = analyticNetwork(yield* loadHardware("H100"))
      const nic = 50 * 0.9
      // ring Simple 256 MiB over 16: steps 30, inter steps 2: 8.4 + 28 x 3.4 + 2 x 14 = 131.6 us;
      // bandwidth min(315, 45) = 45: 2 x 15/16 x bytes / 45
      let p = net.allReduce(256 * MiB, 16)
      expect(p.algorithm).toBe("ring-Simple")
      close(p.ns, 131600 + (30 / 16) * 256 * MiB / nic)
      // tree LL at 4 KiB: 6.8 + 2 x (7 x 0.6 x 1.8 + log2(2) x 5.0) = 31.92 us + bytes / (50 x 0.9 x 0.5 / 3.8)
      // (NCCL's tree: 0.9 of the raw NIC, half as algorithm bandwidth; LL at 1/3.8); ring LL would be
      // 6.6 + 28 x 0.6 x 1.8 + 2 x 2.7 = 42.24 us
      p = net.allReduce(4 * KiB, 16)
      expect(p.algorithm).toBe("tree-LL")
      close(p.ns, 31920 + 4096 / (50 * 0.45 / 3.8))
      // send/recv across nodes: 8.4 + 14 = 22.4 us + bytes / 45; within a node 8.4 + 3.4 = 11.8 us + bytes / 315
      close(net.sendRecvNs(MiB, true), 22400 + MiB / nic)
      close(net.kvTransferNs(MiB, false), 11800 + MiB / 315)
    }))

  it.effect("A6000 (2-way bridge): TP 2 over NVLink, TP 4 over PCIe", () =>
    Effect.gen(function*() {
      const net = analyticNetwork(yield* loadHardware("A6000"))
      // 32 MiB, TP 2: NVLink 3 bridge 56.25 x 0.54, ring Simple 8.4 + 2 x 3.4 us
      close(net.allReduce(32 * MiB, 2).ns, 15200 + 32 * MiB / (56.25 * 0.54))
      // TP 4: PCIe with P2P, 32 x 0.7, ring Simple 8.4 + 6 x 5.7 us + 1.5 x bytes / bw; custom AR off (not fully connected)
      const p = net.allReduce(32 * MiB, 4)
      expect(p.algorithm).toBe("ring-Simple")
      close(p.ns, 42600 + 1.5 * 32 * MiB / 22.4)
      expect(net.allReduce(64 * KiB, 4).algorithm).not.toMatch(/^custom/)
    }))

  it("a single GPU has no collective", () => {
    const net = analyticNetwork(testHardware)
    expect(net.allReduceNs(MiB, 1)).toBe(0)
    expect(net.allGatherNs(MiB, 1)).toBe(0)
    expect(net.allToAllNs(MiB, 1)).toBe(0)
  })
})

describe("hardware fabric", () => {
  it("an old-shape file (no fabric) gets one derived from interconnect", () => {
    const old: Hardware = { ...testHardware, interconnect: "NVLink 4", interconnectGBs: 900 }
    expect(fabricOf(old)).toMatchObject({ kind: "nvlink", generation: 4, perDirectionGBs: 450, topology: "switch", nvls: true, gpusPerNode: 8 })
    expect(nicOf(old)).toEqual({ kind: "infiniband", perGpuGBs: 50 })
    const pcie: Hardware = { ...testHardware, interconnect: "PCIe Gen5 x16", interconnectGBs: 128 }
    expect(fabricOf(pcie)).toMatchObject({ kind: "pcie", generation: 5, perDirectionGBs: 64, p2p: false })
    const bridge: Hardware = { ...testHardware, interconnect: "NVLink bridge", interconnectGBs: 112.5 }
    expect(fabricOf(bridge)).toMatchObject({ topology: "bridge", perDirectionGBs: 56.25 })
    // and prices: an old H100-like file at TP 8, 64 MiB is NVLS like the bundled H100
    expect(analyticNetwork(old).allReduce(64 * MiB, 8).algorithm).toBe("nvls")
  })

  it.effect("every bundled hardware file has a fabric and a NIC", () =>
    Effect.gen(function*() {
      for (const name of ["A10", "A100", "A40", "A6000", "B200", "H100", "H200", "L40", "L40S", "MI300X", "RTX3090", "RTX4080", "RTX4090", "RTXPRO6000", "T4", "V100"]) {
        const hw = yield* loadHardware(name)
        expect(hw.fabric, name).toBeDefined()
        expect(hw.nic, name).toBeDefined()
      }
    }))

  it.effect("a malformed fabric is an InputError naming the field", () =>
    Effect.gen(function*() {
      const fs = yield* Effect.promise(() => import("node:fs"))
      const os = yield* Effect.promise(() => import("node:os"))
      const dir = fs.mkdtempSync(`${os.tmpdir()}/fabric-`)
      const file = `${dir}/bad.json`
      const base = JSON.parse(fs.readFileSync("resources/hardware/H100.json", "utf8"))
      fs.writeFileSync(file, JSON.stringify({ ...base, fabric: { ...base.fabric, perDirectionGBs: -1 } }))
      const e = yield* Effect.flip(loadHardware(file))
      expect(e._tag).toBe("InputError")
      expect(e.message).toContain("fabric.perDirectionGBs")
      fs.writeFileSync(file, JSON.stringify({ ...base, fabric: { ...base.fabric, kind: "token-ring" } }))
      expect((yield* Effect.flip(loadHardware(file))).message).toContain("fabric.kind")
    }))
})
