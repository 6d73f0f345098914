/**
 * The model names `serve` answers to: the base model (its served name, or its id / path) and, with
 * `--enable-lora`, every `--lora-modules` adapter by name, as vLLM serves them (a request's `model`
 * naming an adapter runs with it; `/v1/models` lists each adapter with the base model as `parent`).
 */
import type { ServeState } from "./ServeContext.js"

/**
 * The LoRA adapter id a request's `model` selects: 0 = the base model (also when `model` is
 * absent), 1..n = that `--lora-modules` adapter, undefined = no such model (the route answers 404).
 */
export const modelLora = (st: ServeState, model: string | undefined): number | undefined => {
  if (model === undefined || model === st.options.servedModelName || model === (st.config.model.path ?? st.config.model.id)) return 0
  const adapters = st.config.engine.lora?.adapters
  if (adapters === undefined) return undefined
  const i = adapters.findIndex((a) => a.name === model)
  return i < 0 ? undefined : i + 1
}

/** `/v1/models`' entries: the base model, then each adapter (vLLM's `root` = its path, `parent` = the base). */
export const modelCards = (st: ServeState, created: number) => {
  const base = {
    id: st.options.servedModelName, object: "model", created, owned_by: "vllm", root: st.config.model.path ?? st.config.model.id, parent: null,
    max_model_len: st.config.engine.maxModelLen, permission: []
  }
  const adapters = (st.config.engine.lora?.adapters ?? []).map((a) => ({
    id: a.name, object: "model", created, owned_by: "vllm", root: a.path ?? a.name, parent: st.options.servedModelName,
    max_model_len: st.config.engine.maxModelLen, permission: []
  }))
  return [base, ...adapters]
}
