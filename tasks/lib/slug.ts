/** Branch-name slugs and git ref-name rules, pure (no git call needed). */

/**
 * The branch slug (docs/plan-format.md, `milestone.title`): lowercase, spaces to `-`, drop chars outside [a-z0-9.-],
 * collapse `-` runs; may be empty.
 */
export function slugify(title: string, maxLength = 60): string {
  let slug = title
    .toLowerCase()
    .replace(/\s+/g, '-')
    .replace(/[^a-z0-9.-]/g, '')
    .replace(/-{2,}/g, '-')
    // A ref component may not contain `..`, start with `.` or end with `.lock`/`.`.
    .replace(/\.{2,}/g, '.')
    .slice(0, maxLength);
  slug = slug.replace(/^[-.]+/, '').replace(/[-.]+$/, '');
  while (slug.endsWith('.lock')) slug = slug.slice(0, -5).replace(/[-.]+$/, '');
  return slug;
}

/**
 * Whether `name` is a valid branch name by `git check-ref-format --branch` rules, plus `@` (git accepts it,
 * but it means HEAD in every revision argument).
 */
export function isValidBranchName(name: string): boolean {
  if (name.length === 0 || name.startsWith('-') || name === '@' || name === 'HEAD') return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  if (name.includes('..') || name.includes('@{') || name.includes('//')) return false;
  if (name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) return false;
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'));
}

/** Why `id` cannot be a milestone id (it goes into branch, folder and file names), or undefined when it can. */
export function milestoneIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'must not be empty';
  if (!/^[A-Za-z0-9._-]+$/.test(id)) return `may contain only letters, digits, '.', '_' and '-'`;
  if (!/^[A-Za-z0-9]/.test(id)) return 'must start with a letter or digit';
  if (id.length > 64) return 'must be at most 64 characters';
  if (id.includes('..') || id.endsWith('.lock')) return `must not contain ".." nor end with ".lock"`;
  return undefined;
}

/** A milestone id usable in branch and folder names: digits, or a plain backlog id string. */
export function isValidMilestoneId(id: string): boolean {
  return milestoneIdProblem(id) === undefined;
}
