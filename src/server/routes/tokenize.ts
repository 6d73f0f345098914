/**
 * vLLM's `/tokenize` and `/detokenize` (vllm/entrypoints/openai/serving_tokenization.py) on the
 * server's tokenizer (Tokenizer.ts), so clients such as `vllm bench serve` can align prompts.
 *
 * `/tokenize` with `prompt`: the prompt's ids; `add_special_tokens` (default true, as vLLM's
 * completion form) prepends the BOS id for the Llama 3 tokenizer (128000, its `<|begin_of_text|>`);
 * the GPT-2 (r50k) and cl100k tokenizers have no BOS to add. With `messages`: the chat-template
 * rendering with the generation prompt, exactly the ids `/v1/chat/completions` counts.
 * `add_generation_prompt: false` is refused (the template renderer always adds it).
 * Answer: `{count, max_model_len, tokens, token_strs}` (`token_strs` with `return_token_strs`).
 * `/detokenize`: `{prompt}` = the decoded text; a negative id, or (exact tokenizers) one outside the
 * model's vocabulary, is a 400.
 */
import { HttpApiBuilder, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { DetokenizeRequest, ServeApi, TokenizeRequest } from "../Api.js"
import { checkAuth, decodeBody, reject } from "../errors.js"
import { ServeContext, type ServeState } from "../ServeContext.js"
import { chatTokenIds } from "../Tokenizer.js"

/** Llama 3's `<|begin_of_text|>` id (its tokenizer_config.json bos_token_id). */
const LLAMA3_BOS = 128000

const body = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const text = yield* request.text.pipe(Effect.catchAll(() => reject(400, "Could not read the request body")))
    try {
      return JSON.parse(text) as unknown
    } catch (e) {
      return yield* reject(400, `Invalid JSON body: ${(e as Error).message}`)
    }
  })

const checkModel = (st: ServeState, model: string | undefined) =>
  model !== undefined && model !== st.options.servedModelName && model !== (st.config.model.path ?? st.config.model.id)
    ? reject(404, `The model \`${model}\` does not exist.`, "model")
    : Effect.void

const contentText = (c: unknown): string =>
  typeof c === "string" ? c : Array.isArray(c) ? c.map((p: { type?: string; text?: string }) => (p.type === "text" && p.text !== undefined ? p.text : "")).join("") : ""

export const TokenizeLive = HttpApiBuilder.group(ServeApi, "tokenize", (handlers) =>
  handlers
    .handleRaw("tokenize", ({ request }) =>
      Effect.gen(function*() {
        const st = yield* ServeContext
        yield* checkAuth(st, request)
        const r = yield* decodeBody(TokenizeRequest, yield* body(request))
        yield* checkModel(st, r.model)
        const tok = st.options.tokenizer
        let ids: ReadonlyArray<number>
        if (r.messages !== undefined) {
          if (r.prompt !== undefined) return yield* reject(400, "Give either `prompt` or `messages`, not both", "prompt")
          if (r.add_generation_prompt === false) return yield* reject(400, "add_generation_prompt: false is not supported by the simulator (its chat template always adds the generation prompt)", "add_generation_prompt")
          ids = chatTokenIds(tok, r.messages.map((m) => ({ role: m.role, content: contentText(m.content) })))
        } else if (r.prompt !== undefined) {
          const enc = tok.encode(r.prompt)
          ids = r.add_special_tokens !== false && tok.template === "llama3" ? [LLAMA3_BOS, ...enc] : enc
        } else {
          return yield* reject(400, "Either `prompt` or `messages` is required", "prompt")
        }
        return HttpServerResponse.unsafeJson({
          count: ids.length,
          max_model_len: st.config.engine.maxModelLen,
          tokens: ids,
          token_strs: r.return_token_strs === true ? ids.map((id) => tok.decode([id])) : null
        })
      }).pipe(Effect.catchAll((e) => Effect.succeed(e.response))))
    .handleRaw("detokenize", ({ request }) =>
      Effect.gen(function*() {
        const st = yield* ServeContext
        yield* checkAuth(st, request)
        const r = yield* decodeBody(DetokenizeRequest, yield* body(request))
        yield* checkModel(st, r.model)
        const vocab = st.config.model.vocab
        // with an estimating tokenizer (cl100k for another model) its ids may exceed the model's vocab
        const exact = st.options.tokenizer.exact
        const bad = r.tokens.find((x) => x < 0 || (exact && x >= vocab))
        if (bad !== undefined) return yield* reject(400, `Token id ${bad} is out of vocabulary (vocab_size ${vocab})`, "tokens")
        return HttpServerResponse.unsafeJson({ prompt: st.options.tokenizer.decode(r.tokens) })
      }).pipe(Effect.catchAll((e) => Effect.succeed(e.response))))
)
