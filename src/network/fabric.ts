/**
 * The GPU fabric and NIC of a hardware description (domain/Hardware.ts `Fabric`, `Nic`). Bundled
 * hardware files give both; an old-shape user file (only `interconnect` / `interconnectGBs`) gets
 * them derived here:
 *  - `interconnect` naming NVLink: kind "nvlink", generation = the number in the name (3 when none),
 *    perDirectionGBs = interconnectGBs / 2 (datasheets print both directions); "bridge" in the
 *    name: a 2-way bridge (topology "bridge", larger groups over the host PCIe link); otherwise
 *    NVSwitch (topology "switch", HGX-style), with NVLS from generation 4 (Hopper's NVSwitch 3);
 *  - naming Infinity Fabric / xGMI: kind "xgmi", full mesh, generation 4;
 *  - anything else: PCIe (generation from "Gen<k>", else 4), perDirectionGBs = interconnectGBs / 2,
 *    without P2P (the conservative case: NCCL through host memory, no vLLM custom all-reduce);
 *  - gpusPerNode 8 (the usual server); NIC: InfiniBand 50 GB/s per GPU for NVLink generation >= 4
 *    (DGX H100: one 400 Gb/s NIC per GPU), 25 for NVLink below 4 (DGX A100: 200 Gb/s per GPU),
 *    RoCE 12.5 GB/s per GPU (100 Gb/s) otherwise.
 */
import type { Fabric, Hardware, Nic } from "../domain/Hardware.js"

const genOf = (s: string, re: RegExp, dflt: number) => {
  const m = re.exec(s)
  return m === null ? dflt : Number(m[1])
}

/** The hardware's fabric: `hw.fabric`, or derived from `interconnect` (see the module comment). */
export const fabricOf = (hw: Hardware): Fabric => {
  if (hw.fabric !== undefined) return hw.fabric
  const name = hw.interconnect.toLowerCase()
  const perDirectionGBs = hw.interconnectGBs / 2
  if (name.includes("nvlink")) {
    const generation = genOf(name, /nvlink\s*(\d+)/, 3)
    const bridge = name.includes("bridge")
    return {
      kind: "nvlink",
      generation,
      perDirectionGBs,
      topology: bridge ? "bridge" : "switch",
      nvls: !bridge && generation >= 4,
      p2p: true,
      gpusPerNode: 8
    }
  }
  if (name.includes("infinity") || name.includes("xgmi")) {
    return { kind: "xgmi", generation: 4, perDirectionGBs, topology: "full-mesh", nvls: false, p2p: true, gpusPerNode: 8 }
  }
  return { kind: "pcie", generation: genOf(name, /gen\s*(\d+)/, 4), perDirectionGBs, topology: "pcie", nvls: false, p2p: false, gpusPerNode: 8 }
}

/** The hardware's NIC: `hw.nic`, or derived from the fabric (see the module comment). */
export const nicOf = (hw: Hardware): Nic => {
  if (hw.nic !== undefined) return hw.nic
  const f = fabricOf(hw)
  if (f.kind === "nvlink") return { kind: "infiniband", perGpuGBs: f.generation >= 4 ? 50 : 25 }
  return { kind: "roce", perGpuGBs: 12.5 }
}

/**
 * The PCIe link a group uses where the fabric does not reach (and for kind "pcie"): generation
 * and GB/s per direction, from the fabric's `pcieGeneration` / `pciePerDirectionGBs`, else
 * `hostLink` / `hostLinkGBs` (/ 2), else the fabric itself when it is PCIe, else PCIe 4 x16 (32).
 */
export const pcieOf = (hw: Hardware): { readonly generation: number; readonly perDirectionGBs: number } => {
  const f = fabricOf(hw)
  if (f.kind === "pcie") return { generation: f.pcieGeneration ?? f.generation, perDirectionGBs: f.pciePerDirectionGBs ?? f.perDirectionGBs }
  const generation = f.pcieGeneration ?? genOf((hw.hostLink ?? "").toLowerCase(), /gen\s*(\d+)/, 4)
  const perDirectionGBs = f.pciePerDirectionGBs ?? (hw.hostLinkGBs !== undefined ? hw.hostLinkGBs / 2 : 32)
  return { generation, perDirectionGBs }
}
