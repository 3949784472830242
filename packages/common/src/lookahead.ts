import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from "graphql";

/**
 * Whether the operation asks, below the field being resolved, for the field at `path` (field
 * names, aliases ignored), through fragments and inline fragments alike. A resolver uses it to
 * fetch in its own statement what a child field would otherwise load in another one. Directives
 * (@skip/@include) are not evaluated: a skipped field still counts as asked, which only costs
 * the resolver work it did not need.
 */
export function selectsPath(info: Pick<GraphQLResolveInfo, "fieldNodes" | "fragments">, path: readonly string[]): boolean {
  let level: SelectionSetNode[] = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  for (const [depth, name] of path.entries()) {
    const next: SelectionSetNode[] = [];
    // Fragments are expanded with a worklist, not recursion; each named fragment once per level.
    const pending = [...level];
    const expanded = new Set<string>();
    while (pending.length) {
      const set = pending.pop()!;
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value !== name) continue;
          if (depth === path.length - 1) return true;
          if (selection.selectionSet) next.push(selection.selectionSet);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          pending.push(selection.selectionSet);
        } else {
          const fragment = info.fragments[selection.name.value];
          if (fragment && !expanded.has(fragment.name.value)) {
            expanded.add(fragment.name.value);
            pending.push(fragment.selectionSet);
          }
        }
      }
    }
    if (!next.length) return false;
    level = next;
  }
  return false;
}
