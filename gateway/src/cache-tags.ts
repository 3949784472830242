import {
  getDirectiveValues,
  getNamedType,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isCompositeType,
  isObjectType,
  Kind,
  parse,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLAbstractType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";

/** Entity types of the supergraph: object types some subgraph declares a @key for. */
export function entityTypesOf(supergraphSdl: string): Set<string> {
  const entities = new Set<string>();
  for (const definition of parse(supergraphSdl).definitions) {
    if (definition.kind !== Kind.OBJECT_TYPE_DEFINITION) continue;
    const keyed = definition.directives?.some(
      (d) => d.name.value === "join__type" && d.arguments?.some((a) => a.name.value === "key"),
    );
    if (keyed) entities.add(definition.name.value);
  }
  return entities;
}

interface Walk {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  entities: Set<string>;
  tags: Set<string>;
}

function included(node: FieldNode | { directives?: FieldNode["directives"] }, variables: Record<string, unknown>): boolean {
  const skip = getDirectiveValues(GraphQLSkipDirective, node as FieldNode, variables);
  if (skip?.if === true) return false;
  const include = getDirectiveValues(GraphQLIncludeDirective, node as FieldNode, variables);
  return include?.if !== false;
}

/** The fields selected on an object of `type`, fragments flattened, grouped by response key. */
function collectFields(walk: Walk, type: GraphQLObjectType, selectionSet: SelectionSetNode, into = new Map<string, FieldNode[]>(), seen = new Set<string>()) {
  for (const selection of selectionSet.selections) {
    if (!included(selection, walk.variables)) continue;
    if (selection.kind === Kind.FIELD) {
      const key = selection.alias?.value ?? selection.name.value;
      const list = into.get(key);
      if (list) list.push(selection);
      else into.set(key, [selection]);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const condition = selection.typeCondition?.name.value;
      if (!condition || condition === type.name || !isObjectType(walk.schema.getType(condition))) {
        collectFields(walk, type, selection.selectionSet, into, seen);
      }
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = walk.fragments.get(selection.name.value);
      const condition = fragment?.typeCondition.name.value;
      if (fragment && (condition === type.name || !isObjectType(walk.schema.getType(condition!)))) {
        collectFields(walk, type, fragment.selectionSet, into, seen);
      }
    }
  }
  return into;
}

function visit(walk: Walk, type: GraphQLNamedType, fieldNodes: readonly FieldNode[], value: unknown): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    for (const item of value) visit(walk, type, fieldNodes, item);
    return;
  }
  if (typeof value !== "object") return;
  const object = value as Record<string, unknown>;
  // An abstract field's objects carry their runtime type when the query asked for it, under the
  // response key of a real `__typename` selection (an alias named `__typename` is not one).
  const typenameKey = fieldNodes
    .flatMap((node) => node.selectionSet?.selections ?? [])
    .find((selection): selection is FieldNode => selection.kind === Kind.FIELD && selection.name.value === "__typename");
  const typename = typenameKey ? object[typenameKey.alias?.value ?? "__typename"] : undefined;
  const runtime = typeof typename === "string" ? walk.schema.getType(typename) : undefined;
  const concrete = isObjectType(runtime) ? runtime : isObjectType(type) ? type : undefined;
  if (!concrete) {
    // Unknown runtime type: the object may be any entity the abstract type allows.
    for (const possible of walk.schema.getPossibleTypes(type as GraphQLAbstractType)) {
      if (walk.entities.has(possible.name)) walk.tags.add(possible.name);
    }
    return;
  }
  const fields = new Map<string, FieldNode[]>();
  for (const node of fieldNodes) if (node.selectionSet) collectFields(walk, concrete, node.selectionSet, fields);
  if (walk.entities.has(concrete.name)) {
    const idKey = [...fields].find(([, nodes]) => nodes[0]!.name.value === "id")?.[0];
    const id = idKey === undefined ? undefined : object[idKey];
    // Without its id, the object could be any entity of its type: tag the type itself.
    walk.tags.add(typeof id === "string" || typeof id === "number" ? `${concrete.name}:${id}` : concrete.name);
  }
  const definitions = concrete.getFields();
  for (const [key, nodes] of fields) {
    const definition = definitions[nodes[0]!.name.value];
    const named = definition ? getNamedType(definition.type) : undefined;
    if (named && isCompositeType(named)) visit(walk, named, nodes, object[key]);
  }
}

/**
 * What a response contains, as tags for invalidation: `Type:id` for every entity whose id was
 * selected, `Type` for entities shown without their id, and `Query.<field>` for each root field,
 * so a purge of lists (say, after a product is created) reaches every listing.
 */
export function responseTags(args: {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown>;
  data: Record<string, unknown>;
  entities: Set<string>;
}): string[] {
  const root = args.schema.getQueryType();
  if (!root) return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of args.document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  // The variables as execution saw them, defaults filled in, for @skip/@include.
  const variables: Record<string, unknown> = { ...args.variables };
  for (const definition of args.operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (variables[name] === undefined && definition.defaultValue) variables[name] = valueFromASTUntyped(definition.defaultValue);
  }
  const walk: Walk = { schema: args.schema, fragments, variables, entities: args.entities, tags: new Set() };
  const fields = collectFields(walk, root, args.operation.selectionSet);
  const definitions = root.getFields();
  for (const [key, nodes] of fields) {
    const name = nodes[0]!.name.value;
    if (name.startsWith("__")) continue;
    walk.tags.add(`Query.${name}`);
    const definition = definitions[name];
    const named = definition ? getNamedType(definition.type) : undefined;
    if (named && isCompositeType(named)) visit(walk, named, nodes, args.data[key]);
  }
  return [...walk.tags];
}
