import { stringify } from 'smol-toml';

import { DEFAULT_RUNTIMES, OPTIONS, RUNTIME_FIELDS } from './schema.js';

/** The full default configuration as TOML, one comment per option. */
export function renderDefaultConfig(): string {
  const lines: string[] = ['# Skiff configuration. Every option is shown with its default value.', ''];
  const sections = new Map<string, (typeof OPTIONS)[number][]>();
  for (const opt of OPTIONS) {
    const section = opt.key.slice(0, -1).join('.');
    sections.set(section, [...(sections.get(section) ?? []), opt]);
  }
  for (const [section, opts] of sections) {
    if (section !== '') lines.push(`[${section}]`);
    for (const opt of opts) {
      lines.push(`# ${opt.doc}`);
      lines.push(stringify({ [opt.key[opt.key.length - 1]!]: opt.default }).trim());
    }
    lines.push('');
  }
  lines.push('# Runtime handlers: the RuntimeClass handler name maps to an OCI runtime binary.');
  for (const [name, handler] of Object.entries(DEFAULT_RUNTIMES)) {
    lines.push(`[runtimes.${name}]`);
    for (const field of RUNTIME_FIELDS) {
      lines.push(`# ${field.doc}`);
      lines.push(stringify({ [field.name]: handler[field.name] }).trim());
    }
    lines.push('');
  }
  return lines.join('\n');
}
