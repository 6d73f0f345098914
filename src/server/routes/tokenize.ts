/**
 * vLLM's `POST /tokenize` and `POST /detokenize` with the server's tokenizer (Tokenizer.ts).
 * Shapes from vLLM's protocol (TokenizeCompletionRequest / TokenizeChatRequest, TokenizeResponse,
 * DetokenizeRequest / DetokenizeResponse): tokenize takes `prompt` (add_special_tokens default true)
 * or chat `messages` (rendered with the chat template and the generation prompt; add_special_tokens
 * default false) and answers `{count, max_model_len, tokens, token_strs}`; detokenize takes `tokens`
 * and answers `{prompt}`. The only special token the simulator's tokenizers add is Llama 3's
 * `<|begin_of_text|>` (128000); `add_generation_prompt: false`, which the chat rendering cannot
 * honour, is refused. As in vLLM, `--api-key` does not guard these routes (only /v1 ones).
 */
import { HttpApiBuilder, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { DetokenizeRequest, ServeApi, TokenizeRequest } from "../Api.js"
import { decodeBody, openAiError, Reject, reject } from "../errors.js"
import { modelLora } from "../models.js"
import { checkMessages } from "./messages.js"
import { ServeContext, type ServeState } from "../ServeContext.js"
import { chatTokenIds, encodePrompt } from "../Tokenizer.js"

const LLAMA3_BOS = 128000

const body = (request: HttpServerRequest.HttpServerRequest) =>
  request.text.pipe(
    Effect.catchAll(() => reject(400, "Could not read the request body")),
    Effect.flatMap((text) => Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => e as Error })),
    Effect.catchIf((e): e is Error => e instanceof Error, (e) => reject(400, `Invalid JSON body: ${e.message}`))
  )

const checkModel = (st: ServeState, model: string | undefined) =>
  modelLora(st, model) === undefined ? reject(404, `The model \`${model}\` does not exist.`, "model") : Effect.void

const contentText = (c: unknown): string =>
  c === undefined || c === null ? "" : typeof c === "string" ? c : (c as ReadonlyArray<{ type: string; text?: string }>).map((p) => (p.type === "text" && p.text !== undefined ? p.text : "")).join("")

const catchReject = <A, E, R>(e: Effect.Effect<A, E, R>) =>
  e.pipe(Effect.catchAll((x) => Effect.succeed(x instanceof Reject ? x.response : openAiError(500, String(x)))))

export const TokenizeLive = HttpApiBuilder.group(ServeApi, "tokenize", (handlers) =>
  handlers
    .handleRaw("tokenize", ({ request }) =>
      catchReject(Effect.gen(function*() {
        const st = yield* ServeContext
        const raw = yield* body(request)
        const req = yield* decodeBody(TokenizeRequest, raw)
        if (req.messages !== undefined) yield* checkMessages((raw as { messages: ReadonlyArray<unknown> }).messages)
        yield* checkModel(st, req.model)
        const tok = st.options.tokenizer
        if ((req.prompt === undefined) === (req.messages === undefined)) return yield* reject(400, "Exactly one of `prompt` or `messages` is required", req.prompt === undefined ? "prompt" : "messages")
        let ids: Array<number>
        let special: boolean
        if (req.messages !== undefined) {
          if (req.add_generation_prompt === false) return yield* reject(400, "add_generation_prompt: false is not supported by the simulator (its chat rendering always ends with the generation prompt)", "add_generation_prompt")
          ids = chatTokenIds(tok, req.messages.map((m) => ({ role: m.role, content: contentText(m.content) })))
          special = req.add_special_tokens === true
        } else {
          special = false
          ids = req.add_special_tokens !== false ? encodePrompt(tok, req.prompt!) : [...tok.encode(req.prompt!)]
        }
        if (special && tok.template === "llama3") ids.unshift(LLAMA3_BOS)
        return HttpServerResponse.unsafeJson({
          count: ids.length,
          max_model_len: st.config.engine.maxModelLen,
          tokens: ids,
          token_strs: req.return_token_strs === true ? ids.map((i) => tok.decode([i])) : null
        })
      })))
    .handleRaw("detokenize", ({ request }) =>
      catchReject(Effect.gen(function*() {
        const st = yield* ServeContext
        const req = yield* decodeBody(DetokenizeRequest, yield* body(request))
        yield* checkModel(st, req.model)
        // the bound is the model's vocabulary when the tokenizer is the model's own; an estimating
        // tokenizer (cl100k) has ids of its own vocabulary, which decode() checks
        const vocab = st.options.tokenizer.exact ? st.config.model.vocab : Infinity
        const bad = req.tokens.find((x) => x < 0 || x >= vocab)
        if (bad !== undefined) return yield* reject(400, `Token id ${bad} is out of vocabulary (vocab_size ${vocab})`, "tokens")
        const prompt = yield* Effect.try(() => st.options.tokenizer.decode(req.tokens)).pipe(Effect.catchAll(() => reject(400, "The tokens could not be decoded by the server's tokenizer", "tokens")))
        return HttpServerResponse.unsafeJson({ prompt })
      })))
)
