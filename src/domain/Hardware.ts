/**
 * Accelerator description, from datasheet figures (see `resources/hardware/*.json`; each file names
 * its datasheet in `source`). Throughputs are dense (no 2:4 sparsity); GeForce cards list the
 * FP32-accumulate tensor rate that frameworks actually run at.
 */
import { Schema } from "effect"

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive())

/**
 * GPU-to-GPU fabric inside one node (what NCCL and vLLM's custom all-reduce run over). Fields:
 *  - `kind`: "nvlink" (NVIDIA NVLink), "pcie" (no GPU-GPU link: PCIe through switches/root
 *    complex), "xgmi" (AMD Infinity Fabric);
 *  - `generation`: NVLink / PCIe / Infinity Fabric generation (informational; PCIe 4 = 32 GB/s
 *    per direction for x16, 5 = 64);
 *  - `perDirectionGBs`: one GPU's fabric bandwidth in one direction, all its links together, GB/s
 *    (datasheet bidirectional figure / 2; e.g. H100 SXM NVLink 4: 900 / 2 = 450);
 *  - `topology`: "switch" (NVSwitch: every pair at full bandwidth; HGX/DGX A100, H100, H200,
 *    B200), "full-mesh" (a direct link between every pair, bandwidth split over the n-1 links:
 *    MI300X OAM platform), "hybrid-cube-mesh" (DGX-1 V100: NCCL rings embed at full bandwidth,
 *    but not every pair is linked), "bridge" (2-way NVLink bridge: pairs only, larger groups go
 *    over PCIe), "pcie";
 *  - `nvls`: NVLink SHARP (in-switch reduction; third-generation NVSwitch, Hopper and later) that
 *    NCCL's NVLS algorithm uses; default false;
 *  - `p2p`: CUDA peer-to-peer over PCIe works (data-center and professional cards; GeForce cards
 *    have it disabled in the driver, so NCCL stages through host memory and vLLM's custom
 *    all-reduce is off); NVLink peers always have P2P;
 *  - `gpusPerNode`: GPUs of one server sharing this fabric (typical server: 8); a group of more
 *    GPUs crosses the NIC;
 *  - `pcieGeneration` / `pciePerDirectionGBs`: the PCIe link used where the fabric does not reach
 *    (groups larger than a bridge's 2); default: from `hostLink` / `hostLinkGBs`.
 */
export const Fabric = Schema.Struct({
  kind: Schema.Literal("nvlink", "pcie", "xgmi"),
  generation: PositiveInt,
  perDirectionGBs: Schema.Number.pipe(Schema.positive()),
  topology: Schema.Literal("switch", "full-mesh", "hybrid-cube-mesh", "bridge", "pcie"),
  nvls: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  p2p: Schema.Boolean,
  gpusPerNode: PositiveInt,
  pcieGeneration: Schema.optional(PositiveInt),
  pciePerDirectionGBs: Schema.optional(Schema.Number.pipe(Schema.positive()))
})
export type Fabric = typeof Fabric.Type

/**
 * Scale-out NIC between nodes: `kind` ("infiniband", "roce", "ethernet") and `perGpuGBs`, the NIC
 * bandwidth per GPU in one direction, GB/s (DGX H100: one 400 Gb/s ConnectX-7 per GPU = 50;
 * DGX A100: one 200 Gb/s HDR per GPU = 25).
 */
export const Nic = Schema.Struct({
  kind: Schema.Literal("infiniband", "roce", "ethernet"),
  perGpuGBs: Schema.Number.pipe(Schema.positive())
})
export type Nic = typeof Nic.Type

export const Hardware = Schema.Struct({
  name: Schema.String,
  fullName: Schema.String,
  aliases: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  vendor: Schema.String,
  /** Dense BF16 tensor TFLOP/s; null when the part has no BF16 (V100, T4: FP16 is used instead). */
  bf16Tflops: Schema.NullOr(Schema.Number.pipe(Schema.positive())),
  /** Dense FP16 tensor TFLOP/s. */
  fp16Tflops: Schema.Number.pipe(Schema.positive()),
  /** Dense FP8 tensor TFLOP/s; null when the part has no FP8. */
  fp8Tflops: Schema.NullOr(Schema.Number.pipe(Schema.positive())),
  /** Device memory as printed on the datasheet (GB; GPU vendors mean GiB). */
  memoryGB: Schema.Number.pipe(Schema.positive()),
  memoryType: Schema.optional(Schema.String),
  /** Peak memory bandwidth, GB/s (1e9 bytes/s). */
  memoryBandwidthGBs: Schema.Number.pipe(Schema.positive()),
  /** GPU-to-GPU link, total of both directions as printed (GB/s); PCIe when there is no NVLink. */
  interconnect: Schema.String,
  interconnectGBs: Schema.Number.pipe(Schema.positive()),
  /** The node's GPU fabric (see Fabric); absent in old-shape files: derived from `interconnect` (network/fabric.ts). */
  fabric: Schema.optional(Fabric),
  /** The scale-out NIC (see Nic); absent: derived (network/fabric.ts). */
  nic: Schema.optional(Nic),
  hostLink: Schema.optional(Schema.String),
  hostLinkGBs: Schema.optional(Schema.Number.pipe(Schema.positive())),
  /** Board power limit (TDP / TBP), W, from the datasheet. */
  tdpW: Schema.Number.pipe(Schema.positive()),
  /**
   * Power drawn while idle (driver loaded, no kernels), W: the floor of the energy model
   * (energy/power.ts); `powerSource` says where it comes from. Absent: `--energy` refuses this
   * hardware.
   */
  idleW: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  /** Where `tdpW` and `idleW` come from (datasheet, measurement, or a stated assumption). */
  powerSource: Schema.optional(Schema.String),
  /**
   * The datasheet roofline's GEMM compute efficiency for this card when it differs from the default
   * (domain/PerfParams.ts), with where it comes from: GeForce parts print their FP32-accumulate
   * tensor rate as the BF16 peak, which their tensor cores sustain far closer than datacenter parts
   * reach their peak. `--compute-efficiency` still overrides it.
   */
  computeEfficiency: Schema.optional(Schema.Struct({ value: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1)), source: Schema.String })),
  /** Memory the driver reports as total (bytes), where measured; else derived (see usableMemoryBytes). */
  memoryBytesVisible: Schema.optional(Schema.Number.pipe(Schema.positive())),
  source: Schema.String
})
export type Hardware = typeof Hardware.Type

/**
 * Fraction of the datasheet memory that CUDA reports as total. Measured on the RTX 4090 of the
 * reference vLLM run: 25,250,627,584 of 24 GiB = 25,769,803,776 bytes (0.9799); A100/H100 80GB
 * report about 79.2 GiB of 80 (0.99). We use 0.98 unless the hardware file gives `memoryBytesVisible`.
 */
export const VISIBLE_MEMORY_FRACTION = 0.98

/** Total device memory as the runtime sees it, bytes (what vLLM multiplies by gpu_memory_utilization). */
export const usableMemoryBytes = (hw: Hardware): number =>
  hw.memoryBytesVisible ?? Math.floor(hw.memoryGB * 2 ** 30 * VISIBLE_MEMORY_FRACTION)

/** Peak dense tensor FLOP/s for a weight dtype (bytes per element). */
export const peakFlops = (hw: Hardware, dtypeBytes: number): number => {
  if (dtypeBytes === 1 && hw.fp8Tflops !== null) return hw.fp8Tflops * 1e12
  return (hw.bf16Tflops ?? hw.fp16Tflops) * 1e12
}
