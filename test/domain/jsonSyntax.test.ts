import { describe, expect, it } from "@effect/vitest"
import { jsonSyntaxError } from "../../src/domain/jsonSyntax.js"

const why = (text: string) => {
  try {
    JSON.parse(text)
    return "parsed"
  } catch (e) {
    return jsonSyntaxError(text, e)
  }
}

describe("JSON syntax errors", () => {
  it("one line with the line and column, V8's wording without its quotation of the text", () => {
    expect(why("x\ny\n")).toBe("line 1, column 1: Unexpected token 'x'")
    expect(why('{\n  "pools": [\n    {"instances": x}\n  ]\n}\n')).toBe("line 3, column 19: Unexpected token 'x'")
    expect(why('{"a": 1,\n "b" 2}')).toBe("line 2, column 6: Unexpected number")
    expect(why('{"a": 1')).toBe("line 1, column 8: Expected ',' or '}' after property value")
    expect(why("")).toBe("line 1, column 1: Unexpected end of JSON input")
    for (const t of ["x\ny\n", '{"a": [1,\n]}', '{"a":1}\n}']) expect(why(t)).not.toContain("\n")
  })
})
