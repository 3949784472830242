import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  Lexer,
  parse,
  Source,
  TokenKind,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLArgument,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLFormattedError,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ParseOptions,
  type SelectionSetNode,
  type TypeNode,
  type ValueNode,
} from "graphql";

export interface OperationLimits {
  /** Fields nested; introspection (`__schema`, `__type` and everything below them) is not counted. */
  maxDepth: number;
  /** Aliased fields, counted over the operation with fragments expanded. */
  maxAliases: number;
  /** Fields in the operation's root selection set, fragments on the root expanded. */
  maxRootFields: number;
  /** Directive usages in the operation, fragments expanded. */
  maxDirectives: number;
  /** Lexer tokens in the document (comments excluded, like graphql's parser counts them). */
  maxTokens: number;
  /** Estimated cost; see `measureOperation`. */
  maxCost: number;
  /** Assumed size of a list (or connection) field with no slicing argument value and no @listSize(assumedSize). */
  defaultListSize: number;
}

export const DEFAULT_OPERATION_LIMITS: Readonly<OperationLimits> = Object.freeze({
  maxDepth: 12,
  maxAliases: 30,
  maxRootFields: 20,
  maxDirectives: 50,
  maxTokens: 2000,
  maxCost: 10_000,
  defaultListSize: 10,
});

export interface ListSize {
  assumedSize?: number;
  slicingArguments?: string[];
}

export interface CostModel {
  /** "Type.field" -> weight */
  weights: Map<string, number>;
  /** "Type.field" -> {assumedSize?, slicingArguments?} */
  listSizes: Map<string, ListSize>;
}

export type LimitCode =
  | "MAX_DEPTH_EXCEEDED"
  | "MAX_ALIASES_EXCEEDED"
  | "MAX_ROOT_FIELDS_EXCEEDED"
  | "MAX_DIRECTIVES_EXCEEDED"
  | "MAX_TOKENS_EXCEEDED"
  | "MAX_COST_EXCEEDED";

export interface LimitViolation {
  code: LimitCode;
  message: string;
  limit: number;
  actual: number;
}

export interface OperationMeasure {
  depth: number;
  aliases: number;
  rootFields: number;
  directives: number;
  cost: number;
}

/**
 * Counts tokens the way graphql's parser does for `maxLexicalTokens` (EOF and comments excluded),
 * but stops at `max + 1`: the point of a token limit is not to pay for lexing a huge document.
 * A lexing error ends the count early; the parser reports that error itself.
 */
export function countTokens(source: string, max: number): number {
  const lexer = new Lexer(new Source(source));
  let count = 0;
  try {
    while (count <= max && lexer.advance().kind !== TokenKind.EOF) count++;
  } catch {
    // Syntax error: whatever was counted so far is all this document has to offer.
  }
  return count;
}

/**
 * What server.ts passes as ApolloServer's `parseOptions`. Apollo Server's plugin hooks that run
 * before parsing cannot answer a request (an exception there becomes a 500), so the parser itself
 * must abort a document that is too long; the plugin then turns that parse failure into
 * MAX_TOKENS_EXCEEDED. Without it a 1 MB document is parsed and validated in full (about 0.4 s
 * of CPU for 175,000 fields) before the plugin gets to refuse it.
 */
export function operationLimitsParseOptions(limits: Pick<OperationLimits, "maxTokens">): ParseOptions {
  return { maxLexicalTokens: limits.maxTokens };
}

const COST_SPEC = /^https:\/\/specs\.apollo\.dev\/cost\/v\d+\.\d+$/;
const FEDERATION_SPEC = /^https:\/\/specs\.apollo\.dev\/federation\/v\d+\.\d+$/;

interface DirectiveNames {
  cost: Set<string>;
  listSize: Set<string>;
}

/**
 * Which names @cost and @listSize go by in this document. Composition keeps the subgraphs' import
 * (including an `as:` rename) on the supergraph's cost @link, and a subgraph SDL gets them through
 * the federation @link; per the link spec a non-imported element is `@<namespace>__<name>`, except
 * the element named like the spec itself, which is `@<namespace>`. A schema without any such link
 * (a plain schema declaring the directives itself) uses the plain names.
 */
function resolveDirectiveNames(document: DocumentNode): DirectiveNames {
  const names: DirectiveNames = { cost: new Set(), listSize: new Set() };
  let linked = false;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) continue;
    for (const link of definition.directives ?? []) {
      if (link.name.value !== "link") continue;
      const url = stringArgument(link, "url");
      if (!url) continue;
      const isCostSpec = COST_SPEC.test(url);
      if (!isCostSpec && !FEDERATION_SPEC.test(url)) continue;
      linked = true;
      const namespace = stringArgument(link, "as") ?? (isCostSpec ? "cost" : "federation");
      const imported = new Map<string, string>();
      const imports = link.arguments?.find((argument) => argument.name.value === "import")?.value;
      for (const entry of imports?.kind === Kind.LIST ? imports.values : []) {
        if (entry.kind === Kind.STRING) {
          imported.set(entry.value, entry.value);
        } else if (entry.kind === Kind.OBJECT) {
          const name = entry.fields.find((field) => field.name.value === "name")?.value;
          const as = entry.fields.find((field) => field.name.value === "as")?.value;
          if (name?.kind === Kind.STRING) imported.set(name.value, as?.kind === Kind.STRING ? as.value : name.value);
        }
      }
      for (const element of ["cost", "listSize"] as const) {
        const local = imported.get(`@${element}`);
        const name = local
          ? local.replace(/^@/, "")
          : isCostSpec && element === "cost"
            ? namespace
            : `${namespace}__${element}`;
        names[element].add(name);
      }
    }
  }
  if (!linked) {
    names.cost.add("cost");
    names.listSize.add("listSize");
  }
  return names;
}

function stringArgument(directive: ConstDirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((argument) => argument.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : undefined;
}

function numberArgument(directive: ConstDirectiveNode, name: string): number | undefined {
  const value = directive.arguments?.find((argument) => argument.name.value === name)?.value;
  // The IBM draft typed weights as strings; accept both rather than silently dropping a weight.
  if (value?.kind !== Kind.INT && value?.kind !== Kind.FLOAT && value?.kind !== Kind.STRING) return undefined;
  const number = Number(value.value);
  return Number.isFinite(number) && number >= 0 ? number : undefined;
}

function stringListArgument(directive: ConstDirectiveNode, name: string): string[] | undefined {
  const value: ConstValueNode | undefined = directive.arguments?.find((argument) => argument.name.value === name)?.value;
  if (value?.kind === Kind.STRING) return [value.value];
  if (value?.kind !== Kind.LIST) return undefined;
  return value.values.flatMap((item) => (item.kind === Kind.STRING ? [item.value] : []));
}

function namedTypeOf(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedTypeOf(type.type);
}

/**
 * Reads @cost and @listSize from the composed supergraph (or any SDL). Works on the AST rather
 * than a built schema: a supergraph carries join__ machinery that graphql's buildSchema has no use
 * for, and only the directive arguments matter here. @cost on a type (object, interface, scalar,
 * enum) becomes the weight of every field returning that type that has no @cost of its own.
 * `sizedFields` and `requireOneSlicingArgument` are not used: this model multiplies a sliced
 * field's whole subtree (see `measureOperation`).
 */
export function costModelFromSupergraph(supergraphSdl: string): CostModel {
  const document = parse(supergraphSdl, { noLocation: true });
  const names = resolveDirectiveNames(document);
  const weights = new Map<string, number>();
  const listSizes = new Map<string, ListSize>();
  const typeWeights = new Map<string, number>();
  const unweighted: { key: string; returns: string }[] = [];

  const costOf = (directives: readonly ConstDirectiveNode[] | undefined): number | undefined => {
    const directive = directives?.find((candidate) => names.cost.has(candidate.name.value));
    return directive ? numberArgument(directive, "weight") : undefined;
  };

  for (const definition of document.definitions) {
    switch (definition.kind) {
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION:
      case Kind.INTERFACE_TYPE_DEFINITION:
      case Kind.INTERFACE_TYPE_EXTENSION: {
        const typeWeight = costOf(definition.directives);
        if (typeWeight !== undefined) typeWeights.set(definition.name.value, typeWeight);
        for (const field of definition.fields ?? []) {
          const key = `${definition.name.value}.${field.name.value}`;
          const weight = costOf(field.directives);
          if (weight === undefined) unweighted.push({ key, returns: namedTypeOf(field.type) });
          else weights.set(key, weight);
          const listSize = field.directives?.find((candidate) => names.listSize.has(candidate.name.value));
          if (listSize) {
            const assumedSize = numberArgument(listSize, "assumedSize");
            const slicingArguments = stringListArgument(listSize, "slicingArguments");
            listSizes.set(key, {
              ...(assumedSize !== undefined ? { assumedSize } : {}),
              ...(slicingArguments !== undefined ? { slicingArguments } : {}),
            });
          }
        }
        break;
      }
      case Kind.SCALAR_TYPE_DEFINITION:
      case Kind.SCALAR_TYPE_EXTENSION:
      case Kind.ENUM_TYPE_DEFINITION:
      case Kind.ENUM_TYPE_EXTENSION: {
        const typeWeight = costOf(definition.directives);
        if (typeWeight !== undefined) typeWeights.set(definition.name.value, typeWeight);
        break;
      }
      default:
        break;
    }
  }
  // After the loop: a type's @cost may be declared after (or in an extension of) the fields using it.
  for (const { key, returns } of unweighted) {
    const weight = typeWeights.get(returns);
    if (weight !== undefined && !weights.has(key)) weights.set(key, weight);
  }
  return { weights, listSizes };
}

/**
 * Counts saturate instead of growing without bound: a fragment bomb's expanded size or a stack of
 * large page sizes can exceed what a double holds exactly (or at all), and "more than 2^53" is
 * answer enough for a limit check and still serialises as a number.
 */
const CEILING = Number.MAX_SAFE_INTEGER;
const add = (a: number, b: number) => Math.min(a + b, CEILING);
const multiply = (a: number, b: number) => (a === 0 || b === 0 ? 0 : Math.min(a * b, CEILING));

/**
 * The cost of a selection set whose parent may be abstract: `base` applies whatever the runtime
 * type, `byType` adds what fragments select for one concrete type. The worst case is the maximum
 * over concrete types, so `... on A { big } ... on B { small }` costs `big`, not `big + small`.
 */
interface CostVector {
  base: number;
  byType: Map<string, number>;
}

interface SelectionMeasure {
  /** Longest chain of fields in this selection set, introspection not counted. */
  depth: number;
  aliases: number;
  directives: number;
  /** Fields at this level with fragments expanded: the root field count, when this is the root. */
  fields: number;
  cost: CostVector;
}

const worstCase = (cost: CostVector): number => {
  let extra = 0;
  for (const value of cost.byType.values()) extra = Math.max(extra, value);
  return add(cost.base, extra);
};

const emptyMeasure = (): SelectionMeasure => ({
  depth: 0,
  aliases: 0,
  directives: 0,
  fields: 0,
  cost: { base: 0, byType: new Map() },
});

const INTROSPECTION_ROOTS = new Set(["__schema", "__type"]);

interface MeasureContext {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  memo: Map<string, SelectionMeasure>;
  visiting: Set<string>;
  variables: Record<string, unknown>;
  variableDefaults: Map<string, ConstValueNode>;
  costModel: CostModel;
  defaultListSize: number;
  pageTypes: Set<string>;
}

/**
 * Measures depth, aliases, root fields, directives and estimated cost in one pass. Each fragment
 * is measured once (its measure does not depend on where it is spread), which keeps a "fragment
 * bomb" linear in the document's size while still reporting the expanded numbers.
 *
 * Cost: a field returning an object, interface or union costs its @cost weight or 1; a scalar or
 * enum field its @cost weight or 0; introspection costs 0. A field's total is its own cost plus
 * its children's total times a multiplier:
 * - the value of its slicing argument (@listSize(slicingArguments), else an argument named
 *   `first` or `last`; a variable's value, else the argument's schema default), the largest if
 *   several are given;
 * - else, for a list field or a field that has slicing arguments but no value for them (a
 *   connection without `first`): @listSize(assumedSize) or `defaultListSize`;
 * - else 1.
 * A connection (a non-list field with slicing arguments) multiplies its whole subtree, so list
 * fields of the type it returns (`edges`, `nodes`) are that page and are not multiplied again
 * unless they carry @listSize of their own.
 */
export function measureOperation(args: {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown>;
  costModel: CostModel;
  defaultListSize: number;
}): OperationMeasure {
  const { schema, document, operation, costModel, defaultListSize } = args;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(definition.name.value)) {
      fragments.set(definition.name.value, definition);
    }
  }
  const variableDefaults = new Map<string, ConstValueNode>();
  for (const variable of operation.variableDefinitions ?? []) {
    if (variable.defaultValue) variableDefaults.set(variable.variable.name.value, variable.defaultValue);
  }
  const context: MeasureContext = {
    schema,
    fragments,
    memo: new Map(),
    visiting: new Set(),
    variables: args.variables,
    variableDefaults,
    costModel,
    defaultListSize,
    pageTypes: pageTypesOf(schema, costModel),
  };
  const rootType = schema.getRootType(operation.operation) ?? undefined;
  const root = measureSelectionSet(operation.selectionSet, rootType, context);
  let directives = operation.directives?.length ?? 0;
  for (const variable of operation.variableDefinitions ?? []) directives += variable.directives?.length ?? 0;
  return {
    depth: root.depth,
    aliases: root.aliases,
    rootFields: root.fields,
    directives: add(directives, root.directives),
    cost: worstCase(root.cost),
  };
}

function measureSelectionSet(
  selectionSet: SelectionSetNode,
  parentType: GraphQLCompositeType | undefined,
  context: MeasureContext,
): SelectionMeasure {
  const result = emptyMeasure();
  for (const selection of selectionSet.selections) {
    result.directives = add(result.directives, selection.directives?.length ?? 0);
    if (selection.kind === Kind.FIELD) {
      measureField(selection, parentType, context, result);
      continue;
    }
    let typeCondition: GraphQLCompositeType | undefined;
    let measure: SelectionMeasure;
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      typeCondition = selection.typeCondition ? compositeType(context.schema, selection.typeCondition.name.value) : parentType;
      measure = measureSelectionSet(selection.selectionSet, typeCondition, context);
    } else {
      const fragment = context.fragments.get(selection.name.value);
      if (!fragment) continue;
      typeCondition = compositeType(context.schema, fragment.typeCondition.name.value);
      measure = measureFragment(fragment, typeCondition, context);
    }
    result.depth = Math.max(result.depth, measure.depth);
    result.aliases = add(result.aliases, measure.aliases);
    result.directives = add(result.directives, measure.directives);
    result.fields = add(result.fields, measure.fields);
    mergeFragmentCost(result.cost, parentType, typeCondition, measure.cost, context.schema);
  }
  return result;
}

function measureFragment(
  fragment: FragmentDefinitionNode,
  typeCondition: GraphQLCompositeType | undefined,
  context: MeasureContext,
): SelectionMeasure {
  const name = fragment.name.value;
  const known = context.memo.get(name);
  if (known) return known;
  // Validation rejects cycles before this runs; the guard is for callers that skip validation.
  if (context.visiting.has(name)) return emptyMeasure();
  context.visiting.add(name);
  const measure = measureSelectionSet(fragment.selectionSet, typeCondition, context);
  measure.directives = add(measure.directives, fragment.directives?.length ?? 0);
  context.visiting.delete(name);
  context.memo.set(name, measure);
  return measure;
}

function measureField(
  field: FieldNode,
  parentType: GraphQLCompositeType | undefined,
  context: MeasureContext,
  result: SelectionMeasure,
): void {
  const name = field.name.value;
  result.fields = add(result.fields, 1);
  if (field.alias) result.aliases = add(result.aliases, 1);
  if (INTROSPECTION_ROOTS.has(name)) {
    // Answered by the gateway from its own schema: no depth, no cost; aliases and directives
    // inside still count, since they are what a flood would be made of.
    if (field.selectionSet) {
      const inner = measureSelectionSet(field.selectionSet, undefined, context);
      result.aliases = add(result.aliases, inner.aliases);
      result.directives = add(result.directives, inner.directives);
    }
    return;
  }
  const definition: GraphQLField<unknown, unknown> | undefined =
    isObjectType(parentType) || isInterfaceType(parentType) ? parentType.getFields()[name] : undefined;
  const returnType = definition ? getNamedType(definition.type) : undefined;
  const child = field.selectionSet
    ? measureSelectionSet(field.selectionSet, isCompositeType(returnType) ? returnType : undefined, context)
    : undefined;
  result.depth = Math.max(result.depth, 1 + (child?.depth ?? 0));
  if (child) {
    result.aliases = add(result.aliases, child.aliases);
    result.directives = add(result.directives, child.directives);
  }
  // __typename and fields the schema does not know (validation rejects those) cost nothing.
  if (!parentType || !definition) return;
  const key = `${parentType.name}.${name}`;
  const own = context.costModel.weights.get(key) ?? (isCompositeType(returnType) ? 1 : 0);
  const childCost = child ? worstCase(child.cost) : 0;
  const total = add(own, multiply(childCost, multiplierOf(field, definition, key, parentType, context)));
  result.cost.base = add(result.cost.base, total);
}

function multiplierOf(
  field: FieldNode,
  definition: GraphQLField<unknown, unknown>,
  key: string,
  parentType: GraphQLCompositeType,
  context: MeasureContext,
): number {
  const listSize = context.costModel.listSizes.get(key);
  const slicing = slicingArgumentsOf(definition, listSize);
  if (slicing.length > 0) {
    let largest: number | undefined;
    for (const argument of slicing) {
      const value = slicingValue(field, argument, context);
      if (value !== undefined) largest = Math.max(largest ?? 0, value);
    }
    return largest ?? listSize?.assumedSize ?? context.defaultListSize;
  }
  if (!isListType(getNullableType(definition.type))) return 1;
  if (listSize?.assumedSize !== undefined) return listSize.assumedSize;
  return context.pageTypes.has(parentType.name) ? 1 : context.defaultListSize;
}

/**
 * A slicing argument's value as execution will see it: the literal, else the variable's value,
 * else the variable's default, else the argument's schema default. Only numbers matter here, so
 * this reads them directly instead of coercing every argument.
 */
function slicingValue(field: FieldNode, argument: GraphQLArgument, context: MeasureContext): number | undefined {
  const node = field.arguments?.find((candidate) => candidate.name.value === argument.name)?.value;
  let value: unknown;
  if (node?.kind === Kind.VARIABLE) {
    const name = node.name.value;
    value = Object.hasOwn(context.variables, name) ? context.variables[name] : literalNumber(context.variableDefaults.get(name));
  } else {
    value = literalNumber(node);
  }
  value ??= argument.defaultValue;
  return typeof value === "number" && Number.isFinite(value) ? Math.max(0, value) : undefined;
}

function literalNumber(value: ValueNode | undefined): number | undefined {
  return value?.kind === Kind.INT || value?.kind === Kind.FLOAT ? Number(value.value) : undefined;
}

function slicingArgumentsOf(definition: GraphQLField<unknown, unknown>, listSize: ListSize | undefined): GraphQLArgument[] {
  const candidates = listSize?.slicingArguments ?? ["first", "last"];
  return definition.args.filter((argument) => candidates.includes(argument.name));
}

const pageTypesCache = new WeakMap<CostModel, WeakMap<GraphQLSchema, Set<string>>>();

/** Types returned by a connection (a non-list field with slicing arguments); computed once per schema. */
function pageTypesOf(schema: GraphQLSchema, costModel: CostModel): Set<string> {
  let bySchema = pageTypesCache.get(costModel);
  if (!bySchema) {
    bySchema = new WeakMap();
    pageTypesCache.set(costModel, bySchema);
  }
  const cached = bySchema.get(schema);
  if (cached) return cached;
  const pageTypes = new Set<string>();
  for (const type of Object.values(schema.getTypeMap())) {
    if ((!isObjectType(type) && !isInterfaceType(type)) || type.name.startsWith("__")) continue;
    for (const field of Object.values(type.getFields())) {
      if (isListType(getNullableType(field.type))) continue;
      if (slicingArgumentsOf(field, costModel.listSizes.get(`${type.name}.${field.name}`)).length === 0) continue;
      pageTypes.add(getNamedType(field.type).name);
    }
  }
  bySchema.set(schema, pageTypes);
  return pageTypes;
}

function compositeType(schema: GraphQLSchema, name: string): GraphQLCompositeType | undefined {
  const type = schema.getType(name);
  return isCompositeType(type) ? type : undefined;
}

function possibleTypesOf(schema: GraphQLSchema, type: GraphQLCompositeType): readonly GraphQLObjectType[] {
  return isAbstractType(type) ? schema.getPossibleTypes(type) : [type];
}

/** Adds a fragment's cost to every concrete type of `parentType` that its type condition can match. */
function mergeFragmentCost(
  target: CostVector,
  parentType: GraphQLCompositeType | undefined,
  typeCondition: GraphQLCompositeType | undefined,
  fragmentCost: CostVector,
  schema: GraphQLSchema,
): void {
  if (!parentType || !typeCondition) {
    target.base = add(target.base, worstCase(fragmentCost));
    return;
  }
  for (const type of possibleTypesOf(schema, parentType)) {
    const matches = isAbstractType(typeCondition) ? schema.isSubType(typeCondition, type) : typeCondition === type;
    if (!matches) continue;
    const value = add(fragmentCost.base, fragmentCost.byType.get(type.name) ?? 0);
    target.byType.set(type.name, add(target.byType.get(type.name) ?? 0, value));
  }
}

function violation(code: LimitCode, message: string, limit: number, actual: number): LimitViolation {
  return { code, message, limit, actual };
}

/**
 * The first limit the measure exceeds. Structural limits come before cost because they tell a
 * client exactly what to change.
 */
export function checkOperation(measure: OperationMeasure, limits: OperationLimits): LimitViolation | null {
  const checks: [LimitCode, number, number, string][] = [
    ["MAX_DEPTH_EXCEEDED", measure.depth, limits.maxDepth, `is nested ${measure.depth} levels deep`],
    ["MAX_ROOT_FIELDS_EXCEEDED", measure.rootFields, limits.maxRootFields, `selects ${measure.rootFields} root fields`],
    ["MAX_ALIASES_EXCEEDED", measure.aliases, limits.maxAliases, `uses ${measure.aliases} aliases`],
    ["MAX_DIRECTIVES_EXCEEDED", measure.directives, limits.maxDirectives, `uses ${measure.directives} directives`],
    ["MAX_COST_EXCEEDED", measure.cost, limits.maxCost, `has an estimated cost of ${measure.cost}`],
  ];
  for (const [code, actual, limit, what] of checks) {
    if (actual > limit) return violation(code, `The operation ${what}; the limit is ${limit}.`, limit, actual);
  }
  return null;
}

function tokenViolation(maxTokens: number): LimitViolation {
  // Counting stops at the first token over the limit, so "more than" is all that is known.
  return violation(
    "MAX_TOKENS_EXCEEDED",
    `The document has more than ${maxTokens} tokens; the limit is ${maxTokens}.`,
    maxTokens,
    maxTokens + 1,
  );
}

function limitError(limit: LimitViolation): GraphQLError {
  return new GraphQLError(limit.message, {
    extensions: { code: limit.code, limit: limit.limit, actual: limit.actual, http: { status: 400 } },
  });
}

/**
 * Rejects operations over a limit with HTTP 400 before anything executes: in `didResolveOperation`,
 * after parsing and validation, before the gateway plans or calls a subgraph.
 *
 * The token limit must act before parsing, and no plugin hook can answer a request there (Apollo
 * Server turns an exception from `didResolveSource` or `parsingDidStart` into a 500). So the parser
 * aborts the document (ApolloServer's `parseOptions`, from `operationLimitsParseOptions`: it stops
 * at the first token over the limit), and this plugin, having counted the same tokens the same way
 * in `parsingDidStart`, replaces the resulting GRAPHQL_PARSE_FAILED with MAX_TOKENS_EXCEEDED in
 * `willSendResponse`. Recognising the case by its own count, not by the parser's message, keeps
 * it independent of graphql's wording. Should `parseOptions` be missing, the request is still
 * rejected with MAX_TOKENS_EXCEEDED, only after a full parse and validation, and a warning says so.
 */
export function operationLimitsPlugin<TContext extends BaseContext>(options: {
  limits: OperationLimits;
  /** One model, or the model of the supergraph a request's schema comes from (hot reload). */
  costModel: CostModel | ((schema: GraphQLSchema) => CostModel);
  onReject?: (code: string) => void;
}): ApolloServerPlugin<TContext> {
  const { limits, onReject } = options;
  const model = options.costModel;
  const costModelOf = typeof model === "function" ? model : () => model;
  let warnedUnboundedParse = false;
  return {
    async requestDidStart() {
      let tokens: LimitViolation | null = null;
      return {
        async parsingDidStart({ source, logger }) {
          if (countTokens(source, limits.maxTokens) <= limits.maxTokens) return;
          tokens = tokenViolation(limits.maxTokens);
          onReject?.(tokens.code);
          return async (error) => {
            if (!error && !warnedUnboundedParse) {
              warnedUnboundedParse = true;
              logger.warn(
                "operation limits: a document over the token limit was parsed in full; " +
                  "pass operationLimitsParseOptions(limits) as ApolloServer's parseOptions",
              );
            }
          };
        },
        async didResolveOperation({ schema, document, operation, request }) {
          if (tokens) throw limitError(tokens);
          // No operation to run (e.g. an unknown operationName): Apollo Server answers that itself.
          if (!operation) return;
          const measure = measureOperation({
            schema,
            document,
            operation,
            variables: request.variables ?? {},
            costModel: costModelOf(schema),
            defaultListSize: limits.defaultListSize,
          });
          const exceeded = checkOperation(measure, limits);
          if (exceeded) {
            onReject?.(exceeded.code);
            throw limitError(exceeded);
          }
        },
        async willSendResponse({ response }) {
          if (!tokens || response.body.kind !== "single") return;
          const error: GraphQLFormattedError = {
            message: tokens.message,
            extensions: { code: tokens.code, limit: tokens.limit, actual: tokens.actual },
          };
          response.body.singleResult = { errors: [error] };
          response.http.status = 400;
        },
      };
    },
  };
}
