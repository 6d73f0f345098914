/**
 * Prompt token counting and output text for the server.
 *
 * Which tokenizer (chosen from the model config's `model_type` / vocabulary, or `--tokenizer`):
 * - Llama 3 / 3.1 (`llama`, vocab 128256): llama3-tokenizer-js, the real Llama 3 BPE.
 * - OPT / GPT-2 (`opt`, `gpt2`): gpt-tokenizer's r50k_base (the GPT-2 BPE OPT uses).
 * - A Hugging Face `tokenizer.json` given by path: @huggingface/tokenizers (exact for any model).
 * - Anything else (Qwen, Mistral/Mixtral, ...): an estimate with cl100k_base (documented as such;
 *   on English text it is within a few percent of Qwen's 151k BPE). Give `--tokenizer` for exact counts.
 *
 * Chat messages are counted through the family's chat-template shape: Llama 3
 * (`<|begin_of_text|>` + per message `<|start_header_id|>role<|end_header_id|>\n\n content <|eot_id|>`
 * + the assistant header), ChatML for Qwen (`<|im_start|>role\n content <|im_end|>\n` + `<|im_start|>assistant\n`),
 * else `role: content\n` lines. Template special tokens are counted as one token each.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ModelShape } from "../domain/Model.js"
import { FileError, InputError } from "../domain/errors.js"

export interface TextTokenizer {
  /** Name for /status and logs, e.g. "llama3 (llama3-tokenizer-js)". */
  readonly name: string
  /** True when the counts are exact for this model. */
  readonly exact: boolean
  readonly encode: (text: string) => ReadonlyArray<number>
  readonly decode: (ids: ReadonlyArray<number>) => string
  /** Template shape used for chat messages. */
  readonly template: "llama3" | "chatml" | "plain"
}

export interface ChatMessage {
  readonly role: string
  readonly content: string
}

/** Llama 3 template tokens (the real ids of its vocabulary). */
const LLAMA3 = { begin: 128000, startHeader: 128006, endHeader: 128007, eot: 128009 }

/**
 * A text prompt's token ids as vLLM's completions and /tokenize encode it by default
 * (`add_special_tokens: true`): Llama 3's tokenizer prepends <|begin_of_text|> (128000); the other
 * templates here add nothing.
 */
export const encodePrompt = (tok: TextTokenizer, text: string): Array<number> =>
  tok.template === "llama3" ? [LLAMA3.begin, ...tok.encode(text)] : [...tok.encode(text)]
/** ChatML template tokens (Qwen's ids). */
const CHATML = { imStart: 151644, imEnd: 151645 }

/**
 * Token ids of `messages` rendered with the chat template and the generation prompt (template
 * special tokens as their ids; with the cl100k estimate the text ids are cl100k's). Their count is
 * the prompt's token count; the ids key prefix-cache hits between requests.
 */
export const chatTokenIds = (tok: TextTokenizer, messages: ReadonlyArray<ChatMessage>): Array<number> => {
  const out: Array<number> = []
  const add = (ids: ReadonlyArray<number>) => {
    for (const id of ids) out.push(id)
  }
  switch (tok.template) {
    case "llama3":
      out.push(LLAMA3.begin)
      for (const m of messages) {
        out.push(LLAMA3.startHeader)
        add(tok.encode(m.role))
        out.push(LLAMA3.endHeader)
        add(tok.encode("\n\n"))
        add(tok.encode(m.content.trim()))
        out.push(LLAMA3.eot)
      }
      out.push(LLAMA3.startHeader)
      add(tok.encode("assistant"))
      out.push(LLAMA3.endHeader)
      add(tok.encode("\n\n"))
      return out
    case "chatml":
      for (const m of messages) {
        out.push(CHATML.imStart)
        add(tok.encode(`${m.role}\n${m.content}`))
        out.push(CHATML.imEnd)
        add(tok.encode("\n"))
      }
      out.push(CHATML.imStart)
      add(tok.encode("assistant\n"))
      return out
    case "plain":
      add(tok.encode(messages.map((m) => `${m.role}: ${m.content}\n`).join("") + "assistant:"))
      return out
  }
}

/**
 * Filler words that are one token each in the Llama 3, GPT-2 and cl100k vocabularies (common English
 * words with a leading space), so token i of an answer is always FILLER[i % length].
 */
export const FILLER: ReadonlyArray<string> = [
  " The", " simulated", " server", " is", " producing", " this", " text", " one", " token", " at", " a", " time", " as", " the",
  " model", " would", "."
]

/** Text of output token `i` (0-based): filler, or with `echo` the prompt's tokens in a loop. */
export const outputPiece = (i: number, echo: ReadonlyArray<string> | undefined): string =>
  echo !== undefined && echo.length > 0 ? echo[i % echo.length]! : FILLER[i % FILLER.length]!

/** Per-token pieces of a prompt (echo mode), at most `max` of them. */
export const echoPieces = (tok: TextTokenizer, ids: ReadonlyArray<number>, max: number): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < ids.length && i < max; i++) {
    try {
      out.push(tok.decode([ids[i]!]))
    } catch {
      out.push(FILLER[i % FILLER.length]!)
    }
  }
  return out
}

const llama3 = (): Effect.Effect<TextTokenizer> =>
  Effect.promise(() => import("llama3-tokenizer-js")).pipe(Effect.map((m) => {
    const t = m.default
    return {
      name: "llama3 (llama3-tokenizer-js)",
      exact: true,
      encode: (s) => t.encode(s, { bos: false, eos: false }),
      decode: (ids) => t.decode([...ids]),
      template: "llama3"
    } satisfies TextTokenizer
  }))

const gpt = (encoding: "r50k_base" | "cl100k_base", name: string, exact: boolean, template: TextTokenizer["template"]): Effect.Effect<TextTokenizer> =>
  Effect.promise(async () => encoding === "r50k_base" ? await import("gpt-tokenizer/encoding/r50k_base") : await import("gpt-tokenizer/encoding/cl100k_base")).pipe(
    Effect.map((m) => ({
      name,
      exact,
      encode: (s) => m.encode(s, { disallowedSpecial: new Set() }),
      decode: (ids) => m.decode([...ids]),
      template
    } satisfies TextTokenizer))
  )

const templateOf = (model: ModelShape): TextTokenizer["template"] => {
  const t = model.modelType.toLowerCase()
  if (t.startsWith("qwen")) return "chatml"
  if (t === "llama" && model.vocab >= 128000) return "llama3"
  return "plain"
}

/** A tokenizer from a Hugging Face tokenizer.json (FileError / InputError when unreadable). */
const fromFile = (file: string, model: ModelShape): Effect.Effect<TextTokenizer, FileError | InputError> =>
  Effect.gen(function*() {
    const json = yield* Effect.try({
      try: () => JSON.parse(fs.readFileSync(file, "utf8")) as object,
      catch: (e) => (e instanceof SyntaxError ? new InputError({ path: file, expected: "a JSON tokenizer.json", got: e.message }) : new FileError({ path: file, reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message }))
    })
    const cfgPath = path.join(path.dirname(file), "tokenizer_config.json")
    const config = fs.existsSync(cfgPath) ? (JSON.parse(fs.readFileSync(cfgPath, "utf8")) as object) : {}
    const { Tokenizer } = yield* Effect.promise(() => import("@huggingface/tokenizers"))
    const t = yield* Effect.try({
      try: () => new Tokenizer(json, config),
      catch: (e) => new InputError({ path: file, expected: "a Hugging Face tokenizer.json", got: (e as Error).message })
    })
    return {
      name: `tokenizer.json (${file})`,
      exact: true,
      encode: (s) => t.encode(s, { add_special_tokens: false }).ids,
      decode: (ids) => t.decode([...ids]),
      template: templateOf(model)
    } satisfies TextTokenizer
  })

/** The tokenizer for `model`, or the one in `file` when given. */
export const makeTokenizer = (model: ModelShape, file?: string): Effect.Effect<TextTokenizer, FileError | InputError> => {
  if (file !== undefined) return fromFile(file, model)
  const t = model.modelType.toLowerCase()
  if (t === "llama" && model.vocab >= 128000) return llama3()
  if (t === "opt" || t === "gpt2") return gpt("r50k_base", "gpt2 (gpt-tokenizer r50k_base)", true, "plain")
  return gpt("cl100k_base", `estimate: cl100k_base for ${model.modelType} (give --tokenizer for exact counts)`, false, templateOf(model))
}
