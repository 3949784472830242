import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import { GraphQLError, Kind, visit, type DocumentNode } from "graphql";
import { ErrorCode } from "./errors.ts";

/**
 * PostgreSQL text cannot hold NUL, and UTF-8 cannot encode an unpaired surrogate (both arrive
 * easily through JSON escapes such as "\u0000" or "\ud800"). Any string argument could end up in
 * SQL, so such strings are rejected once, for the whole request, before anything resolves.
 */
export function isStorableText(value: string): boolean {
  return !value.includes("\u0000") && (value as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Walks client input without recursion (HTTP entry points already refuse input nested too deep). */
function findBadString(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === "string") {
      if (!isStorableText(value)) return true;
    } else if (value && typeof value === "object") {
      for (const item of Array.isArray(value) ? value : Object.values(value)) stack.push(item);
    }
  }
  return false;
}

/** Apollo Server reuses the parsed document of a query text it has seen: each is walked once. */
const checkedDocuments = new WeakMap<DocumentNode, boolean>();

function documentHasBadString(document: DocumentNode): boolean {
  const known = checkedDocuments.get(document);
  if (known !== undefined) return known;
  let bad = false;
  visit(document, {
    [Kind.STRING](node) {
      if (!isStorableText(node.value)) bad = true;
    },
  });
  checkedDocuments.set(document, bad);
  return bad;
}

export function inputGuardPlugin<TContext extends BaseContext>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          if (findBadString(request.variables) || documentHasBadString(document)) {
            throw new GraphQLError("Strings must not contain NUL characters or unpaired UTF-16 surrogates.", {
              extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}
