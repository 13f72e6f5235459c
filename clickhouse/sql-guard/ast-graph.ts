/**
 * Reads the tree ClickHouse printed for `EXPLAIN AST graph = 1 <statement>` (a Graphviz digraph:
 * one `n<address>[label="…"];` line per node, one `n<parent> -> n<child>;` line per edge, children
 * in order).
 *
 * Why the graph and not the indented dump: ClickHouse prints names (identifiers, aliases, function
 * names) raw, without escaping — checked with chDB 3.4 / ClickHouse 26.7 — so a backquoted name with
 * a line break in it can print lines that look like nodes. In the indented dump such lines would
 * take real nodes as their children (depth is only indentation); in the graph, structure comes only
 * from edges between node addresses, which the author of a statement cannot know in advance. So a
 * forged line can add a stray node, never move a real one, and this reader refuses every output that
 * is not exactly one tree: each line well-formed, each node declared once, each edge between declared
 * nodes, one parent per node, one root, every node reachable, and every `(children N)` matching the
 * node's edges.
 */

/** One node of the statement's syntax tree. */
export interface AstNode {
  /** The node class: `SelectQuery`, `Function`, `Literal`, `TableExpression`… */
  kind: string;
  /** What follows the kind in the label: a function's name, a literal's value, an identifier. */
  detail: string;
  children: AstNode[];
}

/** The output was not a single well-formed tree (a name with a line break, or not EXPLAIN output). */
export class AstGraphError extends Error {
  override readonly name = 'AstGraphError';
}

const NODE = /^ {4}n(\d+)\[label="(.*)"\];$/;
const EDGE = /^ {4}n(\d+) -> n(\d+);$/;
const HEADER = ['digraph {', '    rankdir="UD";'];
const CHILDREN = / \(children (\d+)\)$/;
const ALIAS = / \(alias .*\)$/;

interface Declared {
  node: AstNode;
  claimed: number;
  parents: number;
}

/** The label without its `(alias …)` and `(children N)` parts, split into kind and detail. */
function readLabel(label: string): { kind: string; detail: string; claimed: number } {
  const children = CHILDREN.exec(label);
  let rest = children ? label.slice(0, children.index) : label;
  // The alias is the last part before the children count; it is never used for a decision, and a
  // detail that contains " (alias " only makes the detail shorter (see statement-rules.ts).
  const alias = ALIAS.exec(rest);
  if (alias) rest = rest.slice(0, alias.index);
  const space = rest.indexOf(' ');
  return {
    kind: space < 0 ? rest : rest.slice(0, space),
    detail: space < 0 ? '' : rest.slice(space + 1),
    claimed: children ? Number(children[1]) : 0,
  };
}

/** The tree of a `EXPLAIN AST graph = 1` output, or AstGraphError when it is not exactly one tree. */
export function parseAstGraph(lines: readonly string[]): AstNode {
  if (lines[0] !== HEADER[0] || lines[1] !== HEADER[1] || lines.at(-1) !== '}') {
    throw new AstGraphError('not the output of EXPLAIN AST graph = 1');
  }
  const body = lines.slice(2, -1);
  const nodes = new Map<string, Declared>();
  const edges: [string, string][] = [];
  for (const line of body) {
    const node = NODE.exec(line);
    const edge = node ? null : EDGE.exec(line);
    if (node) {
      const [, id, label] = node as unknown as [string, string, string];
      if (nodes.has(id)) throw new AstGraphError(`node n${id} is declared twice`);
      const { kind, detail, claimed } = readLabel(label);
      nodes.set(id, { node: { kind, detail, children: [] }, claimed, parents: 0 });
    } else if (edge) {
      edges.push([edge[1]!, edge[2]!]);
    } else {
      throw new AstGraphError(`unexpected line in the syntax tree: ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
  for (const [from, to] of edges) {
    const parent = nodes.get(from);
    const child = nodes.get(to);
    if (!parent || !child) throw new AstGraphError('an edge names an undeclared node');
    child.parents++;
    parent.node.children.push(child.node); // edges come in the order of the children
  }
  const roots = [...nodes.values()].filter((d) => d.parents === 0);
  if (roots.length !== 1) throw new AstGraphError(`the syntax tree has ${roots.length} roots`);
  for (const d of nodes.values()) {
    if (d.parents > 1) throw new AstGraphError('a node has more than one parent');
    if (d.claimed !== d.node.children.length) {
      throw new AstGraphError(`a ${d.node.kind} node claims ${d.claimed} children and has ${d.node.children.length}`);
    }
  }
  // One root, one parent each and n - 1 edges: a tree, unless a cycle sits apart from the root.
  let reached = 0;
  const stack = [roots[0]!.node];
  const seen = new Set<AstNode>();
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) throw new AstGraphError('the syntax tree has a cycle');
    seen.add(n);
    reached++;
    stack.push(...n.children);
  }
  if (reached !== nodes.size) throw new AstGraphError('part of the syntax tree is not reachable from its root');
  return roots[0]!.node;
}
