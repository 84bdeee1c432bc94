/** Branch-name slugs and git ref-name rules, pure (no git call needed). */

/** DESIGN §2 slug: lowercase, spaces to `-`, drop chars outside [a-z0-9.-], collapse `-` runs. */
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
  if (slug.endsWith('.lock')) slug = slug.slice(0, -5).replace(/[-.]+$/, '');
  return slug;
}

/** Whether `name` is a valid branch name by `git check-ref-format --branch` rules. */
export function isValidBranchName(name: string): boolean {
  if (name.length === 0 || name.startsWith('-') || name === '@') return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  if (name.includes('..') || name.includes('@{') || name.includes('//')) return false;
  if (name.startsWith('/') || name.endsWith('/') || name.endsWith('.')) return false;
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'));
}

/** A milestone id usable in branch and folder names: digits, or a plain backlog id string. */
export function isValidMilestoneId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id) && !id.includes('..') && !id.endsWith('.lock');
}
