/**
 * The part of jStat (npm `jstat`, MIT, no dependencies; ships no type declarations) that the
 * project uses: Student's t distribution.
 */
declare module "jstat" {
  interface StudentT {
    /** P(T <= x) for T ~ t(dof). */
    cdf(x: number, dof: number): number
    /** The p-quantile of t(dof). */
    inv(p: number, dof: number): number
  }
  const jStat: { readonly studentt: StudentT }
  export default jStat
}
