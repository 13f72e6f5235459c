/**
 * Reading `EXPLAIN AST graph = 1` (pure): a well-formed graph becomes the tree with children in edge
 * order; anything that is not exactly one tree is refused — the shapes a name with a line break in it
 * can print (ClickHouse prints names raw) included.
 */
import { describe, expect, it } from 'vitest';
import { AstGraphError, parseAstGraph } from '../../../clickhouse/sql-guard/ast-graph.js';

const graph = (...body: string[]) => ['digraph {', '    rankdir="UD";', ...body, '}'];
const node = (id: number, label: string) => `    n${id}[label="${label}"];`;
const edge = (from: number, to: number) => `    n${from} -> n${to};`;

/** SELECT 1 AS `a"b`, file('x') — as chDB prints it. */
const select = graph(
  node(1, 'SelectWithUnionQuery (children 1)'),
  node(2, 'ExpressionList (children 1)'),
  node(3, 'SelectQuery (children 1)'),
  node(4, 'ExpressionList (children 2)'),
  node(5, 'Literal UInt64_1 (alias a"b)'),
  node(6, 'Function file (children 1)'),
  node(7, 'ExpressionList (children 1)'),
  node(8, "Literal 'x'"),
  edge(7, 8),
  edge(6, 7),
  edge(4, 5),
  edge(4, 6),
  edge(3, 4),
  edge(2, 3),
  edge(1, 2),
);

describe('parseAstGraph', () => {
  it('reads the tree: kinds, details (alias and children count removed), children in edge order', () => {
    const root = parseAstGraph(select);
    expect(root.kind).toBe('SelectWithUnionQuery');
    const list = root.children[0]!.children[0]!.children[0]!;
    expect(list.children.map((c) => [c.kind, c.detail])).toEqual([
      ['Literal', 'UInt64_1'],
      ['Function', 'file'],
    ]);
    expect(list.children[1]!.children[0]!.children[0]).toEqual({ kind: 'Literal', detail: "'x'", children: [] });
  });

  it.each([
    [
      'a line broken by a name',
      [...select.slice(0, 6), '    n5[label="Literal UInt64_1 (alias a', 'b)"];', ...select.slice(7)],
    ],
    ['a node declared twice', [...select.slice(0, -1), node(5, 'Literal UInt64_2'), '}']],
    ['a second root', [...select.slice(0, -1), node(9, 'Function file (children 0)'), '}']],
    ['an edge to an undeclared node', [...select.slice(0, -1), edge(1, 99), '}']],
    ['a node with two parents', [...select.slice(0, -1), edge(2, 6), '}']],
    [
      'a wrong children count',
      select.map((l) => l.replace('ExpressionList (children 2)', 'ExpressionList (children 3)')),
    ],
    [
      'a cycle beside the root',
      [...select.slice(0, -1), node(9, 'A (children 1)'), node(10, 'B (children 1)'), edge(9, 10), edge(10, 9), '}'],
    ],
    ['no header', select.slice(1)],
    ['JSON instead', ['{', '"meta": []', '}']],
    ['nothing', []],
  ])('refuses %s', (_name, lines) => {
    expect(() => parseAstGraph(lines)).toThrow(AstGraphError);
  });

  it('keeps a stray node that only looks like one inside a label out of the tree: a forged node is refused', () => {
    // `SELECT 1 AS \`x"];\n    n9[label="Function numbers\`` prints a well-formed extra line.
    const forged = [
      ...select.slice(0, 6),
      node(5, 'Literal UInt64_1 (alias x'),
      node(9, 'Function numbers)'),
      ...select.slice(7),
    ];
    expect(() => parseAstGraph(forged)).toThrow(/roots/);
  });
});
