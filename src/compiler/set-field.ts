/**
 * Putting one `--set` field into a block: the path's holders (`evaluation` in
 * `md_unet.evaluation.tta`) are found, copied from what the declaration inherits when it does not
 * give them itself, or created empty (as if the source said `evaluation { tta true }`; the checker
 * then judges the block like source), and the field replaces every entry of its name. Shared by `applyOverrides`
 * (declarations, before checking) and the checker (family expansions, after expanding). Pure.
 */
import type { Block, Entry, Value } from './ast.js';

export interface SetProblem {
  message: string;
  hint?: string;
}

export interface SetTarget {
  /** The name the path starts from as the user wrote it (`md_unet`), or null for a bare FIELD. */
  name: string | null;
  /** e.g. "experiment 'md_unet'". */
  owner: string;
  /** The value as written after `=`, for hints that rewrite the override. */
  valueText: string;
  /** The entries of a key that the target inherits but does not give itself (declarations that extend). */
  inherited?: (key: string) => Entry[];
  /** Whether a name is a declaration (so `schedule short_finetune` can be answered with `short_finetune.epochs`). */
  isDeclaration: (name: string) => boolean;
  /** A hint for a holder the target neither gives nor inherits (e.g. the architecture a fine-tune takes over). */
  absent?: (key: string, rest: readonly string[]) => string | undefined;
}

/** How an override of `fields` reads: `md_unet.evaluation.tta=true`. */
export function overrideText(name: string | null, fields: readonly string[], valueText: string): string {
  return `${[...(name === null ? [] : [name]), ...fields].join('.')}=${valueText.trim()}`;
}

/** Sets `fields` (a path of at least one key) to `entry` inside `root`; returns a problem, or null when done. */
export function setField(root: Block, fields: readonly string[], entry: Entry, target: SetTarget): SetProblem | null {
  let block = root;
  for (let i = 0; i < fields.length - 1; i++) {
    const key = fields[i];
    const rest = fields.slice(i + 1);
    const here = fields.slice(0, i + 1);
    let holders = block.entries.filter((e) => e.key.text === key);
    if (holders.length === 0 && i === 0 && target.inherited) {
      const inherited = target.inherited(key);
      if (inherited.length === 1 && inherited[0].block !== null && inherited[0].value === null) {
        // Set the field in a copy of the inherited block, as if the declaration had written it out.
        const copy = structuredClone(inherited[0]);
        block.entries.push(copy);
        holders = [copy];
      } else holders = inherited;
    }
    if (holders.length === 0) {
      const hint = target.absent?.(key, rest);
      if (hint !== undefined) return { message: `${target.owner} has no '${key}' to set '${rest.join('.')}' in`, hint };
      // As if the source said `key { field value }`: the checker judges whether that block belongs here.
      const created: Entry = { key: { text: key, span: entry.key.span }, value: null, block: { entries: [], span: entry.span, closed: true }, span: entry.span };
      block.entries.push(created);
      holders = [created];
    }
    if (holders.length > 1) {
      return { message: `${target.owner} has ${holders.length} '${key}' entries; --set cannot tell which one to change`, hint: `replace them with one: --set '${overrideText(target.name, here, `${key === 'phase' ? 'all ' : ''}{ ... }`)}'` };
    }
    const holder = holders[0];
    if (holder.block === null) {
      const ref = referenced(holder.value);
      if (ref !== null && target.isDeclaration(ref)) {
        return { message: `'${key}' of ${target.owner} is not a block: it names '${ref}'`, hint: `set the field of '${ref}' itself: --set ${overrideText(ref, rest, target.valueText)}` };
      }
      return { message: `'${key}' of ${target.owner} is a value, not a block with '${rest[0]}' in it`, hint: `set '${key}' itself: --set ${overrideText(target.name, here, '...')}` };
    }
    block = holder.block;
  }
  // In the place of the first entry it replaces: order matters for transforms and phases.
  const key = fields[fields.length - 1];
  const at = block.entries.findIndex((e) => e.key.text === key);
  const kept = block.entries.filter((e) => e.key.text !== key);
  kept.splice(at < 0 ? kept.length : at, 0, entry);
  block.entries = kept;
  return null;
}

function referenced(v: Value | null): string | null {
  return v?.kind === 'name' && !v.name.includes('.') ? v.name : null;
}
