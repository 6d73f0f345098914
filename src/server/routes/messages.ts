/**
 * Chat messages' roles and required fields, checked after the body's schema (Api.ts) as OpenAI's
 * and vLLM's message types do: the role is one of system, user, assistant, tool, developer; user,
 * system and developer messages need `content`; an assistant message may omit it only when it has
 * `tool_calls`; a tool message needs `content` and `tool_call_id`. A bad message is a 400 naming
 * its field as OpenAI does (`messages[2].role`).
 */
import { Effect } from "effect"
import { reject } from "../errors.js"

/** The chat roles the server takes. */
export const CHAT_ROLES = ["system", "user", "assistant", "tool", "developer"] as const

const present = (x: unknown) => x !== undefined && x !== null

/**
 * Fail with a 400 for the first message whose role is unknown or that lacks a field its role
 * requires; `messages` is the body's raw list (its fields beyond the schema's, e.g. tool_calls).
 */
export const checkMessages = (messages: ReadonlyArray<unknown>) => {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Record<string, unknown>
    const at = `messages[${i}]`
    const role = m.role
    const bad = (field: string, what: string) => reject(400, `Invalid request: ${at}.${field}: ${what}`, `${at}.${field}`)
    if (!(CHAT_ROLES as ReadonlyArray<unknown>).includes(role)) {
      return bad("role", `expected one of ${CHAT_ROLES.map((r) => `"${r}"`).join(", ")}, got ${JSON.stringify(role)}`)
    }
    if (role === "assistant") {
      const calls = m.tool_calls
      if (!present(m.content) && !(Array.isArray(calls) && calls.length > 0)) {
        return bad("content", "an assistant message needs content (a string or a list of content parts) unless it has tool_calls")
      }
      continue
    }
    if (!present(m.content)) return bad("content", `a ${role} message needs content (a string or a list of content parts)`)
    if (role === "tool" && typeof m.tool_call_id !== "string") {
      return bad("tool_call_id", `a tool message needs tool_call_id (a string: the id of the call it answers), got ${m.tool_call_id === undefined ? "none" : JSON.stringify(m.tool_call_id)}`)
    }
  }
  return Effect.void
}
