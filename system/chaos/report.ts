/** The chaos run's report as text, for a terminal (`--json` prints the object itself). */
import type { ChaosReport } from './run.js';

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);

export function formatReport(r: ChaosReport): string {
  const lines = [
    `chaos run: ${r.ok ? 'OK' : 'FAILED'} (seed ${r.seed}, ${r.minutes} min, ${r.tickMs} ms ticks, probability scale ${r.probabilityScale})`,
    `faults injected     ${r.faultsInjected}  ${Object.entries(r.faultsByKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `completeness        ${r.completeness}  (${r.stored} of ${r.executedByDatabase} executions stored over ${r.serverRuns} server runs, ticks ${r.tickRange.from}–${r.tickRange.to}, drained in ${(r.drainMs / 1000).toFixed(1)} s)`,
    `failed ticks        ${r.failedTicks.length === 0 ? 'none' : r.failedTicks.map((t) => `${t.tick} (${t.executed} executions)`).join(', ')}  (full disk: ${r.diskFull})`,
    `duplicates counted  ${r.duplicatesCounted}  (physical duplicate rows not merged yet, never counted: ${r.duplicateRows})`,
    `windows             ${r.windowsStored} stored of ${r.windowsByDatabase} by the database`,
    `scheduler hit rate  ${pct(r.hitRate)} over ${r.schedulerDecisions} decisions (before / during / after faults: ${pct(r.phases.before.hitRate)} / ${pct(r.phases.during.hitRate)} / ${pct(r.phases.after.hitRate)})`,
    `in-band rate        before faults ${pct(r.inBandBeforeFaults)} (${r.phases.before.windows} windows), during ${pct(r.inBandDuringFaults)} (${r.phases.during.windows}), after ${pct(r.inBandAfterFaults)} (${r.phases.after.windows})`,
    `outside faults      hit rate ${pct(r.outsideFaults.hitRate)} (${r.outsideFaults.decisions} decisions), in band ${pct(r.outsideFaults.inBand)} (${r.outsideFaults.windows} windows)`,
    `inside faults       hit rate ${pct(r.insideFaults.hitRate)} (${r.insideFaults.decisions} decisions), in band ${pct(r.insideFaults.inBand)} (${r.insideFaults.windows} windows)`,
    `healthy again       at most ${r.maxHealthyAfterMs ?? 'never'} ms after a fault ended`,
    `unplanned exits     ${r.unplannedExits.length === 0 ? 'none' : r.unplannedExits.map((e) => `${e.name} at ${(e.atMs / 1000).toFixed(1)} s (${e.code ?? e.signal})`).join(', ')}`,
    'faults:',
    ...r.faults.map(
      (f) =>
        `  ${(f.startedAtMs / 1000).toFixed(1).padStart(7)} s  ${f.kind.padEnd(27)} ${f.variant.padEnd(10)} ${String(f.durationMs).padStart(6)} ms down, over after ${f.recoveredAfterMs ?? '—'} ms, healthy ${f.healthyAfterMs ?? '—'} ms later${f.error ? `  ERROR ${f.error}` : ''}`,
    ),
  ];
  if (r.workDir) lines.push(`work directory (data and logs): ${r.workDir}`);
  return `${lines.join('\n')}\n`;
}
