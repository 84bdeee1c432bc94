/** The environment agents and gates get: the runner's, marked as a child, without our own tsx loader. */

/** Remove `--import tsx` (which `.npmrc` adds for our scripts) so node programs of the user's project run as they would by hand. */
export function stripTsxLoader(nodeOptions: string | undefined): string | undefined {
  if (!nodeOptions) return undefined;
  const cleaned = nodeOptions.replace(/--import[= ](?:tsx|\S*\/tsx\/dist\/loader\.mjs)\b/g, '').replace(/\s+/g, ' ').trim();
  return cleaned || undefined;
}

/** Environment for a spawned agent or gate (DESIGN §5: inherits the runner's, plus WORK_MILESTONE_CHILD=1). */
export function childEnv(env: NodeJS.ProcessEnv, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, ...extra, WORK_MILESTONE_CHILD: '1' };
  const nodeOptions = stripTsxLoader(env.NODE_OPTIONS);
  if (nodeOptions) out.NODE_OPTIONS = nodeOptions;
  else delete out.NODE_OPTIONS;
  return out;
}
