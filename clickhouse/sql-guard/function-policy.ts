/**
 * Which functions a read-only statement may call. Built from the engine's own lists
 * (`system.functions`, `system.aggregate_function_combinators`, `system.table_functions`) so that
 * names resolve the way the engine resolves them (exact name, then case-insensitive; aliases; the
 * `sumIf`/`uniqArrayState` combinator forms), then filtered by an allowlist:
 *
 *  - table functions: a short list that only generates or reshapes data in memory (TABLE_FUNCTIONS);
 *    everything else (file, url, s3, remote, mysql, executable, input, merge, loop, eval, …) reaches
 *    files, programs, other servers or tables by name and is refused;
 *  - regular and aggregate functions: the engine's categories that only compute on their arguments
 *    (COMPUTING_CATEGORIES), plus named functions of its catch-all `Other` category that only
 *    describe values or the query (OTHER_FUNCTIONS). Not allowed, among others: `file` (reads a
 *    file, even with `readonly = 1`), `filesystem*`, the `ai*` functions (call a model over the
 *    network), dictionaries (`dictGet*` reach a dictionary's source), `hasColumnInTable` (its long
 *    form connects to another server), `catboostEvaluate` (loads a model file), introspection
 *    (`addressToLine`, `logTrace` writes to the server log), `showCertificate`, `getMacro`,
 *    `getServerSetting`, `generateSerialID` (writes to Keeper), `joinGet`, `sleep`, and
 *    user-defined functions (an executable UDF runs a program).
 * A name the engine does not list is refused: it is unknown, or a combinator form of an unknown one.
 */

/** One row of `system.functions`. */
export interface FunctionRow {
  name: string;
  isAggregate: boolean;
  caseInsensitive: boolean;
  aliasTo: string;
  categories: string;
  /** `System` for built-in functions; user-defined ones are never allowed. */
  origin: string;
}

/** What the engine says it has. */
export interface EngineFunctions {
  functions: FunctionRow[];
  combinators: string[];
  tableFunctions: string[];
}

/**
 * Table functions that only generate rows in memory or wrap an accepted subquery (`view`), plus
 * `SQLStandardValues`, which the parser writes for `FROM (VALUES (1), (2))`. `zeros` and
 * `zeros_mt` are on the list but refused by the engine itself under `readonly = 1`.
 */
export const TABLE_FUNCTIONS = [
  'numbers',
  'numbers_mt',
  'zeros',
  'zeros_mt',
  'primes',
  'values',
  'null',
  'generateRandom',
  'generate_series',
  'generateSeries',
  'view',
  'SQLStandardValues',
] as const;

/** Categories of `system.functions` whose functions compute only on their arguments. */
export const COMPUTING_CATEGORIES = new Set([
  'Aggregate Functions',
  'Arithmetic',
  'Arrays',
  'Bit',
  'Bitmap',
  'Comparison',
  'Conditional',
  'Dates and Times',
  'Distance',
  'Encoding',
  'Encryption',
  'Financial',
  'Geo',
  'Geo Polygon',
  'Hash',
  'IP Address',
  'JSON',
  'Logical',
  'Map',
  'Mathematical',
  'Null',
  'NumericIndexedVector',
  'QBit',
  'Random Number',
  'Rounding',
  'String',
  'String Replacement',
  'String Search',
  'String Splitting',
  'Time Series',
  'Time Window',
  'Tuple',
  'Type Conversion',
  'URL',
  'UUID',
]);

/** Functions of the `Other` and `Internal` categories that describe values, types or the query. */
export const OTHER_FUNCTIONS = new Set([
  '_CAST', // CAST as the engine writes it for a substituted query parameter ({n:UInt32})
  'bar',
  'blockNumber',
  'blockSize',
  'byteSize',
  'caseWithExpression', // CASE x WHEN … (the parser writes it)
  'countDigits',
  'currentDatabase',
  'currentQueryID',
  'currentUser',
  'defaultValueOfArgumentType',
  'defaultValueOfTypeName',
  'dumpColumnStructure',
  'errorCodeToName',
  'finalizeAggregation',
  'formatQuery',
  'formatQueryOrNull',
  'formatQuerySingleLine',
  'formatQuerySingleLineOrNull',
  'formatReadableDecimalSize',
  'formatReadableQuantity',
  'formatReadableSize',
  'formatReadableTimeDelta',
  'getSetting',
  'getSettingOrDefault',
  'getSizeOfEnumType',
  'getSubcolumn',
  'identity',
  'ignore',
  'indexHint',
  'initialQueryID',
  'initializeAggregation',
  'isConstant',
  'isDecimalOverflow',
  'lowCardinalityIndices',
  'lowCardinalityKeys',
  'materialize',
  'neighbor',
  'normalizeQuery',
  'normalizeQueryKeepNames',
  'normalizedQueryHash',
  'normalizedQueryHashKeepNames',
  'parseReadableSize',
  'parseReadableSizeOrNull',
  'parseReadableSizeOrZero',
  'parseTimeDelta',
  'queryID',
  'rowNumberInAllBlocks',
  'rowNumberInBlock',
  'runningAccumulate',
  'runningDifference',
  'runningDifferenceStartingWithFirstValue',
  'throwIf',
  'toColumnTypeName',
  'toTypeName',
  'transform',
  'uptime',
  'variantElement',
  'variantType',
  'version',
  'visibleWidth',
]);

/**
 * Written by the parser or resolved by the analyzer, not listed by the engine: `x -> x + 1`,
 * `EXISTS (subquery)`, `grouping(…)` with GROUPING SETS, `untuple(t)`.
 */
const PARSER_FUNCTIONS = new Set(['lambda', 'exists', 'grouping', 'untuple']);

export interface FunctionPolicy {
  /** May `name(…)` be called as a regular or aggregate function? */
  allowsFunction(name: string): boolean;
  /** May `FROM name(…)` be used? */
  allowsTableFunction(name: string): boolean;
}

export function functionPolicy(engine: EngineFunctions): FunctionPolicy {
  const exact = new Map<string, FunctionRow[]>();
  const folded = new Map<string, FunctionRow[]>();
  for (const row of engine.functions) {
    exact.set(row.name, [...(exact.get(row.name) ?? []), row]);
    if (row.caseInsensitive) {
      const key = row.name.toLowerCase();
      folded.set(key, [...(folded.get(key) ?? []), row]);
    }
  }
  // The engine looks a name up as written, then case-insensitively.
  const lookUp = (name: string) => exact.get(name) ?? folded.get(name.toLowerCase()) ?? [];
  const combinators = engine.combinators.filter((c) => c.length > 0);

  /** allowed: every row the name can mean is allowed; aggregate: it names an aggregate function. */
  const resolve = (name: string, depth: number): { allowed: boolean; aggregate: boolean } => {
    if (depth > 8) return { allowed: false, aggregate: false };
    const rows = lookUp(name);
    if (rows.length > 0) {
      let allowed = true;
      let aggregate = false;
      for (const row of rows) {
        const target = row.aliasTo ? resolve(row.aliasTo, depth + 1) : undefined;
        allowed &&=
          row.origin === 'System' &&
          (target ? target.allowed : COMPUTING_CATEGORIES.has(row.categories) || OTHER_FUNCTIONS.has(row.name));
        aggregate ||= row.isAggregate || (target?.aggregate ?? false);
      }
      return { allowed, aggregate };
    }
    // `sumIf`, `uniqArrayState`, `avgOrNull`: an aggregate function with combinator suffixes.
    for (const c of combinators) {
      if (name.length <= c.length || !name.endsWith(c)) continue;
      const nested = resolve(name.slice(0, -c.length), depth + 1);
      if (nested.aggregate) return nested;
    }
    return { allowed: false, aggregate: false };
  };

  // A case variant of an allowed table function is allowed unless it is another table function.
  const known = new Set(engine.tableFunctions);
  const allowedTables = new Map<string, string>();
  for (const name of TABLE_FUNCTIONS) {
    const clash = engine.tableFunctions.some((t) => t !== name && t.toLowerCase() === name.toLowerCase());
    if (!clash) allowedTables.set(name.toLowerCase(), name);
  }

  return {
    allowsFunction: (name) => PARSER_FUNCTIONS.has(name) || resolve(name, 0).allowed,
    allowsTableFunction: (name) => {
      const listed = allowedTables.get(name.toLowerCase());
      return listed !== undefined && (name === listed || !known.has(name));
    },
  };
}
