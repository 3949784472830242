import {
  defaultFieldResolver,
  GraphQLError,
  isObjectType,
  valueFromASTUntyped,
  type ConstDirectiveNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from "graphql";
import { ErrorCode } from "../errors.ts";
import type { Viewer } from "./viewer.ts";

/**
 * A rule that needs data, named in `@policy(policies: [["name"]])`. It sees the viewer (null when
 * anonymous), the object the field belongs to, the field's arguments and the request context.
 */
export type Policy = (
  viewer: Viewer | null,
  parent: unknown,
  args: Record<string, unknown>,
  context: { viewer: Viewer | null },
) => boolean;

interface Requirement {
  authenticated: boolean;
  /** Any one inner list must be held entirely (OR of ANDs), as in the Federation spec. */
  scopes: string[][];
  policies: string[][];
}

/** Imported directives keep their names; un-imported ones are namespaced `federation__`. */
function directiveName(node: ConstDirectiveNode): string {
  return node.name.value.replace(/^federation__/, "");
}

function requirementOf(nodes: readonly ConstDirectiveNode[]): Requirement | null {
  const requirement: Requirement = { authenticated: false, scopes: [], policies: [] };
  let any = false;
  for (const node of nodes) {
    const name = directiveName(node);
    const argument = (argName: string) => {
      const arg = node.arguments?.find((a) => a.name.value === argName);
      return arg ? (valueFromASTUntyped(arg.value) as string[][]) : [];
    };
    if (name === "authenticated") {
      requirement.authenticated = any = true;
    } else if (name === "requiresScopes") {
      requirement.scopes.push(...argument("scopes"));
      any = true;
    } else if (name === "policy") {
      requirement.policies.push(...argument("policies"));
      any = true;
    }
  }
  return any ? requirement : null;
}

function merge(a: Requirement | null, b: Requirement | null): Requirement | null {
  if (!a || !b) return a ?? b;
  return {
    authenticated: a.authenticated || b.authenticated,
    scopes: [...a.scopes, ...b.scopes],
    policies: [...a.policies, ...b.policies],
  };
}

/**
 * Enforces @authenticated, @requiresScopes and @policy where the data lives: each guarded field's
 * resolver is wrapped so it runs only when the rule holds. Otherwise the field resolves to null
 * with an UNAUTHENTICATED (nobody signed in) or FORBIDDEN error at its path. A directive on an
 * object type guards every field of that type, whichever path (query or `_entities`) reached it.
 * Apollo's JS gateway does not enforce these directives, and a subgraph must not trust that any
 * gateway does, so the subgraphs do.
 */
export function enforceAuthorization(schema: GraphQLSchema, policies: Readonly<Record<string, Policy>>): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    const typeNodes = [type.astNode, ...type.extensionASTNodes].flatMap((node) => node?.directives ?? []);
    const typeRequirement = requirementOf(typeNodes);
    for (const field of Object.values(type.getFields())) {
      const requirement = merge(typeRequirement, requirementOf(field.astNode?.directives ?? []));
      if (!requirement) continue;
      for (const name of requirement.policies.flat()) {
        if (!policies[name]) throw new Error(`${type.name}.${field.name} names an unknown policy "${name}"`);
      }
      const coordinate = `${type.name}.${field.name}`;
      const resolve: GraphQLFieldResolver<unknown, { viewer: Viewer | null }> = field.resolve ?? defaultFieldResolver;
      field.resolve = (parent, args: Record<string, unknown>, context: { viewer: Viewer | null }, info) => {
        authorize(requirement, coordinate, context, parent, args, policies);
        return resolve(parent, args, context, info);
      };
    }
  }
  return schema;
}

/**
 * @authenticated and @requiresScopes need a viewer. A @policy is asked even without one (a policy
 * may know better, e.g. the user who has just signed in within this very request); when it says
 * no, the answer is UNAUTHENTICATED for anonymous callers and FORBIDDEN for signed-in ones.
 */
function authorize(
  requirement: Requirement,
  coordinate: string,
  context: { viewer: Viewer | null },
  parent: unknown,
  args: Record<string, unknown>,
  policies: Readonly<Record<string, Policy>>,
): void {
  const { viewer } = context;
  const needsViewer = requirement.authenticated || requirement.scopes.length > 0;
  const scopesOk =
    requirement.scopes.length === 0 || requirement.scopes.some((all) => all.every((s) => viewer?.scopes.includes(s)));
  const policiesOk =
    requirement.policies.length === 0 ||
    requirement.policies.some((all) => all.every((name) => policies[name]?.(viewer, parent, args, context) === true));
  if ((needsViewer && !viewer) || (!viewer && !policiesOk)) {
    throw new GraphQLError(`You must be signed in to access ${coordinate}.`, {
      extensions: { code: ErrorCode.UNAUTHENTICATED },
    });
  }
  if (!scopesOk || !policiesOk) {
    throw new GraphQLError(`You are not allowed to access ${coordinate}.`, {
      extensions: { code: ErrorCode.FORBIDDEN },
    });
  }
}
