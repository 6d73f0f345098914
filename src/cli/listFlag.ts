/**
 * vLLM's argparse flags that take several values after one flag (`nargs="+"`: `--goodput ttft:300
 * tpot:50`, `--lora-modules a b=/path`), for @effect/cli, which reads one value per option.
 */

/**
 * `args` with every `flag` (given once or several times) folded into one `flag v1,v2,...` at the
 * first one's place; the values are the arguments after each `flag` that match `isValue`.
 */
export const foldListFlag = (args: ReadonlyArray<string>, flag: string, isValue: RegExp): Array<string> => {
  const out: Array<string> = []
  const values: Array<string> = []
  let at = -1
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a !== flag) {
      out.push(a)
      continue
    }
    if (at < 0) {
      at = out.length
      out.push(a)
    }
    while (i + 1 < args.length && isValue.test(args[i + 1]!)) values.push(args[++i]!)
  }
  if (at >= 0 && values.length > 0) out.splice(at + 1, 0, values.join(","))
  return out
}

/** `--lora-modules a b=/path c` folded to `--lora-modules a,b=/path,c` (values are the arguments not starting with "-"). */
export const normalizeLoraModulesFlag = (args: ReadonlyArray<string>): Array<string> => foldListFlag(args, "--lora-modules", /^[^-]/)
