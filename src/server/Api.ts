/**
 * The HTTP contract of `serve`: one HttpApi describing the OpenAI-compatible endpoints (vLLM's
 * dialect) and the simulator's own, from which the OpenAPI document (`/openapi.json`, `/docs`) is
 * generated. Request schemas list the fields the simulator reads (the generation fields, typed
 * loosely here, are validated in generation/fields.ts); unknown fields are ignored.
 * The POST handlers decode bodies themselves (so malformed input gets OpenAI-format 400s, not
 * Effect's HttpApiDecodeError) and stream SSE when `stream` is true, which the OpenAPI document
 * cannot express (Effect 3 HttpApi has no SSE schema): see each endpoint's description.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"

const OptNull = <S extends Schema.Schema.Any>(s: S) => Schema.optional(Schema.NullOr(s))

export const StreamOptions = Schema.Struct({
  include_usage: OptNull(Schema.Boolean),
  continuous_usage_stats: OptNull(Schema.Boolean)
}).annotations({ title: "an object {include_usage, continuous_usage_stats}" })

const ContentPart = Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) }).annotations({ title: "a content part {type, text}" })

export const ChatMessageIn = Schema.Struct({
  role: Schema.String,
  content: OptNull(Schema.Union(Schema.String, Schema.Array(ContentPart).annotations({ title: "a list of content parts {type, text}" }))),
  name: Schema.optional(Schema.String)
}).annotations({ title: "a message {role, content}" })

const Gen = (description: string) => Schema.optional(Schema.Unknown).annotations({ description })

const SamplingFields = {
  model: Schema.optional(Schema.String),
  stream: OptNull(Schema.Boolean),
  stream_options: OptNull(StreamOptions),
  max_tokens: OptNull(Schema.Int),
  n: OptNull(Schema.Int),
  ignore_eos: OptNull(Schema.Boolean),
  min_tokens: OptNull(Schema.Int),
  temperature: OptNull(Schema.Number),
  top_p: OptNull(Schema.Number),
  top_k: OptNull(Schema.Int),
  min_p: OptNull(Schema.Number),
  presence_penalty: OptNull(Schema.Number),
  frequency_penalty: OptNull(Schema.Number),
  repetition_penalty: OptNull(Schema.Number),
  seed: OptNull(Schema.Int),
  /** vLLM's request priority (lower first); only with --scheduling-policy priority, else 400 unless 0. */
  priority: OptNull(Schema.Int),
  // validated and honoured (or refused with a 400) by generation/fields.ts
  stop: Gen("string or list of strings: end the answer at the first one (finish_reason stop, stop_reason)"),
  stop_token_ids: Gen("list of token ids that end the answer"),
  include_stop_str_in_output: Gen("boolean: keep the stop string / token in the text"),
  response_format: Gen("{type: text | json_object | json_schema}: content that validates against the schema"),
  structured_outputs: Gen("vLLM: {json | choice | json_object}; regex / grammar are refused"),
  guided_json: Gen("vLLM: a JSON schema the content validates against"),
  guided_choice: Gen("vLLM: the content is one of these strings"),
  truncate_prompt_tokens: Gen("keep the prompt's last N tokens (-1: max_model_len)")
}

/** POST /v1/chat/completions body (the fields the simulator reads). */
export const ChatRequest = Schema.Struct({
  ...SamplingFields,
  messages: Schema.Array(ChatMessageIn).annotations({ title: "a list of messages {role, content}" }).pipe(Schema.minItems(1)),
  max_completion_tokens: OptNull(Schema.Int),
  logprobs: Gen("boolean: per-token logprobs in choices[].logprobs.content"),
  top_logprobs: Gen("0..20 candidates per token (needs logprobs: true)"),
  tools: Gen("function tools; arguments are sampled from each function's parameters schema"),
  tool_choice: Gen("none | auto | required | {type: function, function: {name}}"),
  parallel_tool_calls: Gen("false: at most one tool call")
}).annotations({ title: "a JSON object (a chat completion request)" })
export type ChatRequest = typeof ChatRequest.Type

/** POST /v1/completions body. `prompt`: a string, token ids, or a list of either (one choice group per prompt). */
export const CompletionRequest = Schema.Struct({
  ...SamplingFields,
  prompt: Schema.Union(
    Schema.String,
    Schema.Array(Schema.String).annotations({ title: "a list of strings" }),
    Schema.Array(Schema.Int).annotations({ title: "a list of token ids" }),
    Schema.Array(Schema.Array(Schema.Int)).annotations({ title: "a list of token-id lists" })
  ),
  echo: OptNull(Schema.Boolean),
  logprobs: Gen("0..20: per-token logprobs with that many candidates")
}).annotations({ title: "a JSON object (a completion request)" })
export type CompletionRequest = typeof CompletionRequest.Type

const ResponsesInputPart = Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) })

/** POST /v1/responses body: `input` a string or a list of messages; the rest as OpenAI's Responses API. */
export const ResponsesRequest = Schema.Struct({
  model: Schema.optional(Schema.String),
  input: Schema.Union(Schema.String, Schema.Array(Schema.Struct({
    type: Schema.optional(Schema.Literal("message")),
    role: Schema.Literal("user", "assistant", "system", "developer"),
    content: Schema.Union(Schema.String, Schema.Array(ResponsesInputPart))
  })).annotations({ title: "a list of input messages {role, content}" })),
  instructions: OptNull(Schema.String),
  max_output_tokens: OptNull(Schema.Int),
  stream: OptNull(Schema.Boolean),
  temperature: OptNull(Schema.Number),
  top_p: OptNull(Schema.Number)
}).annotations({ title: "a JSON object (a Responses API request)" })

/** POST /tokenize body: `prompt` or chat `messages` (vLLM's TokenizeCompletionRequest / TokenizeChatRequest). */
export const TokenizeRequest = Schema.Struct({
  model: Schema.optional(Schema.String),
  prompt: Schema.optional(Schema.String),
  messages: Schema.optional(Schema.Array(ChatMessageIn)),
  add_special_tokens: OptNull(Schema.Boolean),
  add_generation_prompt: OptNull(Schema.Boolean),
  return_token_strs: OptNull(Schema.Boolean)
}).annotations({ title: "a JSON object (a tokenize request)" })
/** POST /detokenize body. */
export const DetokenizeRequest = Schema.Struct({ model: Schema.optional(Schema.String), tokens: Schema.Array(Schema.Int).annotations({ title: "a list of token ids" }) })
  .annotations({ title: "a JSON object (a detokenize request)" })

const Usage = Schema.Struct({ prompt_tokens: Schema.Int, completion_tokens: Schema.Int, total_tokens: Schema.Int })

export const ChatCompletion = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("chat.completion"),
  created: Schema.Int,
  model: Schema.String,
  choices: Schema.Array(Schema.Struct({
    index: Schema.Int,
    message: Schema.Struct({ role: Schema.Literal("assistant"), content: Schema.String }),
    finish_reason: Schema.String
  })),
  usage: Usage
})

export const Completion = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("text_completion"),
  created: Schema.Int,
  model: Schema.String,
  choices: Schema.Array(Schema.Struct({ index: Schema.Int, text: Schema.String, finish_reason: Schema.String })),
  usage: Usage
})

/** OpenAI's nested error body; `code` is the HTTP status as vLLM sends it. */
export const OpenAiErrorBody = Schema.Struct({
  error: Schema.Struct({ message: Schema.String, type: Schema.String, param: Schema.NullOr(Schema.String), code: Schema.Int })
})

const err = (status: number) => OpenAiErrorBody.annotations({ identifier: `Error${status}` })

export const ModelCard = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("model"),
  created: Schema.Int,
  owned_by: Schema.String,
  root: Schema.String,
  /** null for the base model; the base model's served name for a LoRA adapter (vLLM). */
  parent: Schema.NullOr(Schema.String),
  max_model_len: Schema.Int
})
export const ModelList = Schema.Struct({ object: Schema.Literal("list"), data: Schema.Array(ModelCard) })

export const ServerStatus = Schema.Struct({
  pending: Schema.Int,
  waiting: Schema.Int,
  running: Schema.Int,
  completed: Schema.Int,
  kv_blocks_used: Schema.Int,
  kv_blocks_total: Schema.Int,
  kv_memory_used_bytes: Schema.Number,
  kv_memory_total_bytes: Schema.Number,
  sim_time_s: Schema.Number,
  time_scale: Schema.Number,
  /** Mean / max lateness of the engine's step deliveries against their scheduled wall time, ms. */
  delivery_lag_mean_ms: Schema.Number,
  delivery_lag_max_ms: Schema.Number,
  /** Lateness of the latest step delivery, ms. */
  delivery_lag_ms: Schema.Number,
  /** With --enable-lora: adapters of the open requests, and the adapter loads so far. */
  lora: Schema.optional(Schema.Struct({
    running_adapters: Schema.Array(Schema.String),
    waiting_adapters: Schema.Array(Schema.String),
    gpu_loads: Schema.Int,
    storage_loads: Schema.Int,
    load_stall_s: Schema.Number,
    lora_kernel_s: Schema.Number
  }))
})

export class OpenAiGroup extends HttpApiGroup.make("openai")
  .add(
    HttpApiEndpoint.post("completions", "/v1/completions")
      .setPayload(CompletionRequest)
      .addSuccess(Completion)
      .addError(err(400), { status: 400 })
      .addError(err(404), { status: 404 })
      .addError(err(503), { status: 503 })
      .annotate(OpenApi.Description, "Text completion. With `stream: true` the answer is `text/event-stream`: one `data:` JSON chunk per token, a usage chunk when `stream_options.include_usage`, then `data: [DONE]`.")
  )
  .add(
    HttpApiEndpoint.post("chatCompletions", "/v1/chat/completions")
      .setPayload(ChatRequest)
      .addSuccess(ChatCompletion)
      .addError(err(400), { status: 400 })
      .addError(err(404), { status: 404 })
      .addError(err(503), { status: 503 })
      .annotate(OpenApi.Description, "Chat completion. With `stream: true` the answer is `text/event-stream`: a role chunk at the first token, one chunk per token (finish_reason on the last), a usage chunk when `stream_options.include_usage`, then `data: [DONE]`.")
  )
  .add(HttpApiEndpoint.get("listModels", "/v1/models").addSuccess(ModelList))
  .annotate(OpenApi.Title, "OpenAI-compatible (vLLM dialect)") {}

export class ResponsesGroup extends HttpApiGroup.make("responses")
  .add(
    HttpApiEndpoint.post("createResponse", "/v1/responses")
      .setPayload(ResponsesRequest)
      .addSuccess(Schema.Struct({ id: Schema.String, object: Schema.Literal("response"), status: Schema.String }))
      .addError(err(400), { status: 400 })
      .addError(err(404), { status: 404 })
      .addError(err(503), { status: 503 })
      .annotate(OpenApi.Description, "Responses API (create). With `stream: true` the answer is `text/event-stream` of named events (`event: <type>`): response.created, response.in_progress, response.output_item.added, response.content_part.added, response.output_text.delta per token, response.output_text.done, response.content_part.done, response.output_item.done, response.completed.")
  )
  .annotate(OpenApi.Title, "Responses API (vLLM dialect)") {}

export class TokenizeGroup extends HttpApiGroup.make("tokenize")
  .add(
    HttpApiEndpoint.post("tokenize", "/tokenize")
      .setPayload(TokenizeRequest)
      .addSuccess(Schema.Struct({ count: Schema.Int, max_model_len: Schema.Int, tokens: Schema.Array(Schema.Int), token_strs: Schema.NullOr(Schema.Array(Schema.String)) }))
      .addError(err(400), { status: 400 })
      .annotate(OpenApi.Description, "vLLM's /tokenize: the prompt's (or chat messages') token ids with the server's tokenizer.")
  )
  .add(
    HttpApiEndpoint.post("detokenize", "/detokenize")
      .setPayload(DetokenizeRequest)
      .addSuccess(Schema.Struct({ prompt: Schema.String }))
      .addError(err(400), { status: 400 })
      .annotate(OpenApi.Description, "vLLM's /detokenize: the text of token ids.")
  )
  .annotate(OpenApi.Title, "Tokenizer (vLLM dialect)") {}

export class ServerGroup extends HttpApiGroup.make("server")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Schema.Void, { status: 200 }))
  .add(HttpApiEndpoint.get("version", "/version").addSuccess(Schema.Struct({ version: Schema.String })))
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4" }))
    .annotate(OpenApi.Description, "Prometheus text with vLLM's metric names"))
  .add(HttpApiEndpoint.get("status", "/status").addSuccess(ServerStatus))
  .annotate(OpenApi.Title, "Simulator") {}

export class ServeApi extends HttpApi.make("llmservingsim").add(OpenAiGroup).add(ResponsesGroup).add(TokenizeGroup).add(ServerGroup)
  .annotate(OpenApi.Title, "LLMServingSim-TS simulated OpenAI server") {}
